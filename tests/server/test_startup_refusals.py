"""``mopsgate serve`` refuses to start on a broken or missing manifest, says where, serves
nothing and leaves a ``startup`` row in the audit log (catalogue M-01, M-02).

Refusing is the documented choice for a missing manifest (no ``--read-only-default``): without
the policy there is nothing to decide reads with either.
"""

from __future__ import annotations

import pytest

from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.server.test_transports import PRODUCTION_MANIFEST, _serve


def _startup_rows(settings: Settings) -> list[dict[str, object]]:
    return [r for r in audit_rows(settings) if r["kind"] == "startup"]


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_an_unclosed_array_stops_start_up_with_its_position_and_a_row(
    settings: Settings, transport: str
):
    path = settings.manifest_path
    path.write_text(path.read_text() + '\n[principals.late]\nuse_cases = ["reporting"\n')
    proc = _serve(settings, "--transport", transport, "--principal", "assistant", "--port", "0")
    assert proc.returncode == 2, proc.stderr
    assert f"{path}:" in proc.stderr and ": invalid TOML" in proc.stderr, proc.stderr
    assert "is not a valid manifest" in proc.stderr
    assert proc.stdout == ""  # no MCP answer: nothing served
    assert "serving" not in proc.stderr.lower()
    [row] = _startup_rows(settings)
    assert (row["outcome"], row["error_code"], row["transport"]) == (
        "refused",
        "manifest_invalid",
        transport,
    )
    assert "invalid TOML" in str(row["reason"]) and str(path) in str(row["reason"])
    assert [r["kind"] for r in audit_rows(settings)] == ["startup"]  # nothing else happened


def test_a_missing_manifest_stops_start_up_with_a_row(settings: Settings):
    settings.manifest_path.unlink()
    proc = _serve(settings, "--transport", "http", "--port", "0")
    assert proc.returncode == 2, proc.stderr
    assert "cannot read manifest" in proc.stderr, proc.stderr
    assert "http://" not in proc.stderr  # no banner: no socket was bound
    [row] = _startup_rows(settings)
    assert row["outcome"] == "refused" and row["error_code"] == "manifest_invalid"
    assert "cannot read manifest" in str(row["reason"])


def test_a_production_connector_without_credentials_leaves_a_row(settings: Settings):
    settings.manifest_path.write_text(PRODUCTION_MANIFEST)
    proc = _serve(settings, "--transport", "stdio", "--principal", "analyst")
    assert proc.returncode == 2 and "HUBSPOT_ACCESS_TOKEN is not set" in proc.stderr
    [row] = _startup_rows(settings)
    assert row["error_code"] == "config_invalid" and "HUBSPOT_ACCESS_TOKEN" in str(row["reason"])
