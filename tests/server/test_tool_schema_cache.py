"""The tools' JSON Schemas are remembered in the state directory between starts (a client starts
``mopsgate serve`` per session), and a remembered copy is used only while it is exactly what
the models would generate: a changed model, an edited or broken file, or a directory that cannot
be written all end in the generated schemas."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import BaseModel

from mopsgate.server import tool_schemas
from mopsgate.server.tool_schemas import FILE_NAME, fingerprint, generate, schemas
from mopsgate.tools.registry import all_specs
from mopsgate.tools.spec import ToolInput

SPECS = list(all_specs().values())


@pytest.fixture(scope="module")
def generated() -> tool_schemas.Schemas:
    """What the models generate: the same for every test here, so generated once."""
    return generate(SPECS)


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts like a new process: nothing remembered in memory."""
    monkeypatch.setattr(tool_schemas, "_MEMO", {})


def test_a_first_start_writes_what_the_models_generate(tmp_path: Path, generated) -> None:
    assert schemas(SPECS, tmp_path) == generated
    stored = json.loads((tmp_path / FILE_NAME).read_text())
    assert stored["fingerprint"] == fingerprint(SPECS)
    assert {name: tuple(pair) for name, pair in stored["tools"].items()} == generated


def test_the_next_start_reads_the_file(tmp_path: Path) -> None:
    schemas(SPECS, tmp_path)
    path = tmp_path / FILE_NAME
    stored = json.loads(path.read_text())
    stored["tools"]["whoami"][0]["title"] = "from the file"  # a mark only a read can carry
    path.write_text(json.dumps(stored))
    tool_schemas._MEMO.clear()
    assert schemas(SPECS, tmp_path)["whoami"][0]["title"] == "from the file"


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda s: {**s, "fingerprint": "0" * 64}, id="other-models"),
        pytest.param(lambda s: {**s, "tools": []}, id="wrong-shape"),
        pytest.param(lambda s: "not json", id="not-json"),
    ],
)
def test_a_file_for_other_models_or_damaged_is_regenerated(
    tmp_path: Path, damage, generated
) -> None:
    schemas(SPECS, tmp_path)
    path = tmp_path / FILE_NAME
    stored = json.loads(path.read_text())
    damaged = damage(stored)
    path.write_text(damaged if isinstance(damaged, str) else json.dumps(damaged))
    tool_schemas._MEMO.clear()
    assert schemas(SPECS, tmp_path) == generated
    assert json.loads(path.read_text())["fingerprint"] == fingerprint(SPECS)


def test_a_changed_model_changes_the_fingerprint() -> None:
    class Narrower(ToolInput):
        limit: int = 5

    class Wider(ToolInput):
        limit: int | None = 5

    class Out(BaseModel):
        ok: bool

    def spec(model: type[ToolInput]):  # the two attributes the fingerprint reads, and a name
        return type("S", (), {"name": "t", "input_model": model, "output_model": Out})()

    assert fingerprint([spec(Narrower)]) != fingerprint([spec(Wider)])
    assert fingerprint(SPECS) == fingerprint(list(reversed(SPECS)))


def test_a_missing_or_unwritable_directory_costs_nothing_but_time(
    tmp_path: Path, generated
) -> None:
    assert schemas(SPECS, tmp_path / "absent") == generated
    assert not (tmp_path / "absent").exists()
    tool_schemas._MEMO.clear()
    (tmp_path / FILE_NAME).mkdir()  # a directory where the file would go: os.replace fails
    assert schemas(SPECS, tmp_path) == generated
