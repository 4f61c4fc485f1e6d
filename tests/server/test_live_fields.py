"""A manifest naming a field the production org does not have stops start-up (catalogue M-21).

Checked against the org's own describe, not the static catalogue: here a HubSpot portal where
the custom property ``consent_evidence`` (the express-consent floor's evidence field) was never
created, and a rule withholding a field the org lacks. ``serve`` exits 2 naming where the
manifest names the field, serves nothing and audits the refusal; a complete org starts.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from mopsgate.governance.live_fields import missing_fields
from mopsgate.governance.manifest_load import load_manifest_text
from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.hubspot.emulator import HubSpotEmulator
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.server.loopback import serving
from tests.server.test_transports import PRODUCTION_MANIFEST, _serve

DENY = """
[[rules]]
id = "no-notes"
effect = "deny"
principals = ["analyst"]
tools = ["search_people"]
connectors = ["hubspot"]
fields = ["message"]
reason = "free text stays out of reports"
"""


@pytest.fixture
def portal() -> Iterator[tuple[HubSpotEmulator, str]]:
    emu = HubSpotEmulator()
    with serving(lambda _sock: emu.app, lifespan="off") as base:
        yield emu, base


def _start(settings: Settings, base: str) -> subprocess.CompletedProcess[str]:
    return _serve(
        settings,
        *("--transport", "stdio", "--principal", "analyst"),
        HUBSPOT_ACCESS_TOKEN=hs.SANDBOX_TOKEN,
        HUBSPOT_BASE_URL=base,
        HUBSPOT_ALLOWED_HOSTS="127.0.0.1",
    )


def test_a_field_the_org_lacks_stops_start_up(settings: Settings, portal):
    emu, base = portal
    emu.core.faults.missing_fields = {"consent_evidence", "message"}
    settings.manifest_path.write_text(PRODUCTION_MANIFEST + DENY)
    proc = _start(settings, base)
    assert proc.returncode == 2, proc.stderr
    assert "the consent-evidence field (express consent) names hubspot contact." in proc.stderr
    assert "consent_evidence, which this org does not have" in proc.stderr
    assert "rule 'no-notes' names hubspot contact.message" in proc.stderr
    assert proc.stdout == ""
    [row] = [r for r in audit_rows(settings) if r["kind"] == "startup"]
    assert row["error_code"] == "manifest_invalid" and "does not have" in row["reason"]


def test_a_complete_org_starts(settings: Settings, portal):
    _, base = portal
    settings.manifest_path.write_text(PRODUCTION_MANIFEST + DENY)
    proc = _start(settings, base)
    assert proc.returncode == 0, proc.stderr
    assert not [r for r in audit_rows(settings) if r["kind"] == "startup"]


def test_only_fields_the_manifest_names_are_required():
    manifest = load_manifest_text(PRODUCTION_MANIFEST + DENY, "m.toml", build_catalogue())
    full = {"contact": {"message", "consent_evidence", "email"}}
    assert missing_fields(manifest, "hubspot", full) == []
    assert missing_fields(manifest, "hubspot", {"contact": {"email"}}) == [
        "the consent-evidence field (express consent) names hubspot contact.consent_evidence, "
        "which this org does not have (create the field, or take it out of the manifest)",
        "rule 'no-notes' names hubspot contact.message, which this org does not have "
        "(create the field, or take it out of the manifest)",
    ]
