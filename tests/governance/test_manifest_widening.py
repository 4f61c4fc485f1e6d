"""Which manifest edits widen permissions (catalogue M-17), judged from the two versions and
failing closed; and the digest, which names what the file says, not the model that reads it."""

from __future__ import annotations

import hashlib
import json

import pytest

from mopsgate.governance import manifest_load
from mopsgate.governance.manifest_load import legacy_digest, load_manifest_text, manifest_digest
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.manifest_widening import first_keys, unapproved_ok, widenings
from mopsgate.server.catalogue import build_catalogue
from tests.conftest import ROOT

CAT = build_catalogue()
BASE = (ROOT / "permissions.toml").read_text()
ANALYST_TOOLS = '"list_campaigns", "get_campaign", '


def _load(text: str) -> Manifest:
    return load_manifest_text(text, "permissions.toml", CAT)


def _edit(old: str, new: str, count: int = 1) -> str:
    assert old in BASE, old
    return BASE.replace(old, new, count)


def _analyst(old: str, new: str) -> str:
    """An edit of the analyst-read rule only."""
    head, rule = BASE.split('id = "analyst-read"')
    assert old in rule, old
    return head + 'id = "analyst-read"' + rule.replace(old, new, 1)


def _without_no_delete() -> str:
    start = BASE.index('[[rules]]\nid = "assistant-no-delete"')
    return BASE[:start] + BASE[BASE.index("\n\n", start) + 2 :]


WIDENING = {
    "a tool granted": (
        _analyst(ANALYST_TOOLS, ANALYST_TOOLS + '"get_list_usage", '),
        ["allow rule analyst-read: tools"],
    ),
    "unmasked PII": (
        _analyst('pii = "masked"', 'pii = "unmasked"'),
        ["allow rule analyst-read: pii"],
    ),
    "a deny rule removed": (_without_no_delete(), ["removed deny rule assistant-no-delete"]),
    "a deny rule for fewer tools": (
        _edit(
            'deny"\nprincipals = ["analyst"]\ntools = ["*"]',
            'deny"\nprincipals = ["analyst"]\ntools = ["get_person"]',
        ),
        ["deny rule analyst-no-phone: tools"],
    ),
    "a new principal": (
        BASE + '\n[principals.intern]\nuse_cases = ["reporting"]\n',
        ["added principal intern"],
    ),
    "a raised rate limit": (
        _edit("calls_per_minute = 120", "calls_per_minute = 600"),
        ["principal assistant: rate_limit"],
    ),
    "a higher record threshold for extra approvals": (
        _edit("records_over = 500", "records_over = 5000"),
        ["approval policy audience: records_over"],
    ),
    "a reviewer added": (
        BASE + '\n[reviewers.deputy]\nrisk_classes = ["update_fields"]\n',
        ["added reviewer deputy"],
    ),
    "a reviewer may approve more": (
        _edit(
            'roles = ["mops"]\nrisk_classes = ["update_fields"',
            'roles = ["mops"]\nrisk_classes = ["consent", "update_fields"',
        ),
        ["reviewer mops-lead: risk_classes"],
    ),
    "a later review date": (
        _edit("review_date = 2027-05-01", "review_date = 2028-05-01"),
        ["use case campaign-ops: review_date"],
    ),
    "production": (
        _edit(
            '[connectors.hubspot]\nenvironment = "sandbox"',
            '[connectors.hubspot]\nenvironment = "production"',
        )
        + '\n[reviewers.deputy-compliance]\nroles = ["compliance"]\nrisk_classes = ["consent", '
        '"send", "update_fields", "audience", "lifecycle"]\n',
        ["connector hubspot: environment", "added reviewer deputy-compliance"],
    ),
    "a webhook target": (
        BASE + '\n[notifications.targets.hook]\nformat = "json"\nurl_env = "HOOK_URL"\n',
        ["changed notifications"],
    ),
    "a bigger record cap": (
        _edit("max_records_per_change = 4", "max_records_per_change = 40"),
        ["allow rule assistant-merge-duplicates: max_records_per_change"],
    ),
}


@pytest.mark.parametrize("name", sorted(WIDENING))
def test_widening_edits_are_named(name: str) -> None:
    text, expected = WIDENING[name]
    found = widenings(_load(BASE), _load(text))
    assert found, f"{name} was not seen as widening"
    if expected is not None:
        assert found == expected


NARROWING = {
    "a tool taken away": _analyst(ANALYST_TOOLS, ""),
    "a new deny rule": BASE + '\n[[rules]]\nid = "no-lists"\neffect = "deny"\nprincipals = '
    '["analyst"]\ntools = ["list_lists"]\nreason = "not needed"\n',
    "a lower rate limit": _edit("calls_per_minute = 120", "calls_per_minute = 60"),
    "more approvals": _edit("[approvals.audience]\ncount = 1", "[approvals.audience]\ncount = 2"),
    "an earlier review date": _edit("review_date = 2027-05-01", "review_date = 2027-01-01"),
    "a stricter overdue setting": _edit('on_overdue = "warn"', 'on_overdue = "propose_only"'),
    "a reworded purpose and reason": _edit(
        "Answer questions about campaign performance", "Answer questions on campaign results"
    ).replace("Phone numbers are not needed", "Phone numbers are never needed"),
    "comments and layout only": "# reviewed 2026-12-01\n" + BASE.replace(" = ", "  =  "),
    "a smaller record cap": _edit("max_records_per_change = 4", "max_records_per_change = 2"),
    "a second approver for manifest changes": BASE + "\n[manifest_changes]\napprovals = 2\n",
    "a reviewer's display name": _edit('name = "Marketing Ops Lead"', 'name = "MOPs Lead"'),
}


@pytest.mark.parametrize("name", sorted(NARROWING))
def test_narrowing_and_neutral_edits_widen_nothing(name: str) -> None:
    assert widenings(_load(BASE), _load(NARROWING[name])) == []


def test_fewer_manifest_change_approvers_is_a_widening() -> None:
    two = _load(BASE + "\n[manifest_changes]\napprovals = 2\n")
    assert widenings(two, _load(BASE)) == ["manifest_changes: approvals"]


class _Later(Manifest):
    """A manifest model from a later mopsgate, with a setting this one knows nothing of."""

    future_knob: int = 0


def test_a_change_to_a_setting_without_a_known_direction_counts_as_widening() -> None:
    data = _load(BASE).model_dump(mode="json")
    old = _Later.model_validate({**data, "future_knob": 0})
    new = _Later.model_validate({**data, "future_knob": 5})
    assert widenings(old, new) == ["changed future_knob"]


def test_only_declaring_the_first_keys_is_recognised() -> None:
    key = '\n[[reviewers.mops-lead.keys]]\npublic_key = "ed25519:' + "A" * 43 + '="\n'
    keyed = _load(BASE + key)
    found = widenings(_load(BASE), keyed)
    assert found == ["reviewer mops-lead: keys"] and first_keys(_load(BASE), found)
    assert not first_keys(keyed, ["reviewer compliance: keys"])  # someone has a key already
    assert not first_keys(_load(BASE), [*found, "added principal intern"])


def test_only_on_sandboxes_may_a_credential_be_declared_unapproved_once_keys_exist() -> None:
    """`reviewer enrol` declares a newcomer's credential on a sandbox by design; with a
    production connector, a key added to a reviewer can approve, so it waits for approval."""
    key = '\n[[reviewers.compliance.keys]]\npublic_key = "ed25519:' + "B" * 43 + '="\n'
    first = '\n[[reviewers.mops-lead.keys]]\npublic_key = "ed25519:' + "A" * 43 + '="\n'
    production = WIDENING["production"][0]
    for base, expected in ((BASE, True), (production, False)):
        old, new = _load(base + first), _load(base + first + key)
        found = widenings(old, new)
        assert found == ["reviewer compliance: keys"]
        assert bool(unapproved_ok(old, new, found)) is expected
        assert unapproved_ok(_load(base), old, ["reviewer mops-lead: keys"])  # the first key


def test_the_digest_names_what_the_file_says_not_the_model(monkeypatch) -> None:
    """An upgrade that adds an optional model field must not change the digest of an unchanged
    file: pending changes and signed approvals name it."""
    before = _load(BASE)
    monkeypatch.setattr(manifest_load, "Manifest", _Later)
    upgraded = _load(BASE)
    assert isinstance(upgraded, _Later)
    assert manifest_digest(upgraded) == manifest_digest(before)
    assert legacy_digest(upgraded) != legacy_digest(before)  # what the old digest did
    assert len(manifest_digest(before)) == 64
    assert manifest_digest(before) != hashlib.sha256(json.dumps({}).encode()).hexdigest()
