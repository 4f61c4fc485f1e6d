"""The manifest's JSON Schema: generated from the validator's models, committed beside the
shipped manifest, and strict enough that an editor flags what the loader refuses."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
from typer.testing import CliRunner

from mopsgate.governance.errors import ManifestError
from mopsgate.governance.manifest_load import load_manifest_text
from mopsgate.governance.manifest_schema import DIRECTIVE, FILE_NAME, manifest_schema
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.cli_manifest import manifest_app

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "permissions.toml"
COMMITTED = ROOT / FILE_NAME
runner = CliRunner()


def _errors(text: str) -> list[str]:
    """What an editor validating against the committed schema would flag (TOML dates are
    strings to a JSON Schema validator)."""
    data: Any = json.loads(json.dumps(tomllib.loads(text), default=str))
    schema = json.loads(COMMITTED.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    return [e.message for e in validator.iter_errors(data)]


def test_committed_schema_is_the_generated_one(tmp_path: Path) -> None:
    out = tmp_path / FILE_NAME
    result = runner.invoke(manifest_app, ["schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == COMMITTED.read_text(encoding="utf-8"), (
        "permissions.schema.json is out of date: run "
        "`mopsgate manifest schema -o permissions.schema.json` and commit it"
    )
    printed = runner.invoke(manifest_app, ["schema"])
    assert printed.exit_code == 0 and printed.stdout == out.read_text(encoding="utf-8")


def test_shipped_manifest_points_at_the_schema_and_validates() -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    assert text.splitlines()[0] == DIRECTIVE
    assert (SHIPPED.parent / DIRECTIVE.split()[-1]).resolve() == COMMITTED.resolve()
    assert _errors(text) == []


def test_schema_flags_what_the_loader_refuses() -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    for bad in (
        text.replace('pii = "masked"', 'pii = "maskd"', 1),
        text.replace('risk_level = "low"', 'risk_level = "lowish"', 1),
        text.replace("[principals.analyst]", "[principals.analyst]\nuse_case = []", 1),
        text.replace("[principals.analyst]", '[principals."аnalyst"]', 1),  # Cyrillic а
    ):
        assert bad != text
        assert _errors(bad), bad
        try:
            load_manifest_text(bad, "permissions.toml", build_catalogue())
        except ManifestError:
            pass
        else:
            raise AssertionError("the loader accepted what the schema refuses")


def test_schema_describes_fields_from_the_models() -> None:
    schema: Any = manifest_schema()
    use_case = schema["$defs"]["UseCase"]
    assert "reviewed again" in use_case["properties"]["review_date"]["description"]
    owners = schema["$defs"]["Owners"]["properties"]
    assert set(owners) == {"business", "technical", "data", "risk", "escalation"}
    assert all(p.get("description") for p in owners.values())
