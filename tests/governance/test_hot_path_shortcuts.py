"""What the per-call shortcuts remember (key kinds, masked argument names, a day's review
verdict) never changes an answer: each is checked against the answer worked out afresh."""

from __future__ import annotations

import pytest

from mopsgate.governance import data_access
from mopsgate.governance.audit_chain import EVENT_COLUMNS, MAX_TEXT, AuditEvent, event_values
from mopsgate.governance.cadence import RULE_ID
from mopsgate.governance.pii import mask_arguments, mask_text
from mopsgate.governance.policy import decide
from tests.governance.test_cadence import day, manifest

RESULT = {
    "ref": "marketo:lead:1",
    "people": [{"ref": "marketo:lead:2", "owner_ref": "marketo:user:9"}],
    "groups": [{"member_refs": ["hubspot:contact:7", "not a ref", {"ref": "hubspot:contact:8"}]}],
    "refs": [["marketo:lead:3"], "marketo:lead:4"],
    7: {"ref": "marketo:lead:5"},
    "note": "hubspot:contact:99",
}
EXPECTED = (
    "marketo:lead:1",
    "marketo:lead:2",
    "marketo:user:9",
    "hubspot:contact:7",
    "hubspot:contact:8",
    "marketo:lead:4",
    "marketo:lead:3",
    "marketo:lead:5",
)


def test_record_refs_are_the_same_when_the_key_table_is_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert data_access.record_refs(RESULT) == (EXPECTED, 0)
    assert data_access.record_refs(RESULT) == (EXPECTED, 0)  # every key remembered now
    monkeypatch.setattr(data_access, "_KEY_KINDS", {})
    monkeypatch.setattr(data_access, "_MAX_KEYS", 0)
    assert data_access.record_refs(RESULT) == (EXPECTED, 0)
    assert data_access._KEY_KINDS == {}


def test_each_stored_column_comes_from_its_own_field() -> None:
    event = AuditEvent(
        kind="tool_call",
        principal="p-principal",
        client_name="p-client",
        client_version="p-version",
        transport="http",
        tool="p-tool",
        connector="p-connector",
        arguments={"ref": "p-ref"},
        decision="denied",
        rule_id="p-rule",
        reason="p-reason " + "r" * MAX_TEXT,
        outcome="error",
        error_code="p-code",
        result_summary="p-summary mail jane@example.com",
        upstream_calls=3,
        duration_ms=1.23456,
        change_id="p-change",
        manifest_digest="p-digest",
        use_case="p-use-case",
        records=("marketo:lead:1",),
    )
    stored = dict(zip(EVENT_COLUMNS, event_values(event), strict=True))
    plain = {"principal", "client_name", "client_version", "tool", "connector", "rule_id"}
    for column in plain | {"kind", "transport", "decision", "outcome", "error_code"}:
        assert stored[column] == getattr(event, column), column
    for column in ("change_id", "manifest_digest", "use_case", "upstream_calls"):
        assert stored[column] == getattr(event, column), column
    assert stored["arguments"] == '{"ref":"p-ref"}'
    assert stored["reason"] == mask_text(str(event.reason), MAX_TEXT)
    assert str(stored["reason"]).endswith(f"…[truncated {len(str(event.reason)) - MAX_TEXT} chars]")
    assert stored["result_summary"] == mask_text(str(event.result_summary), MAX_TEXT)
    assert "jane@example.com" not in str(stored["result_summary"])
    assert stored["duration_ms"] == 1.235
    assert stored["records"] == '["marketo:lead:1"]'


def test_argument_names_are_masked_alike_every_time() -> None:
    args = {"note for jane@example.com": "x", "email": "jane@example.com", "ref": "marketo:lead:1"}
    first, second = mask_arguments(args), mask_arguments(args)
    assert first == second
    assert isinstance(first, dict)
    assert mask_text("note for jane@example.com", 200) in first
    assert "jane@example.com" not in str(first)


def test_a_review_verdict_holds_for_its_own_day_only() -> None:
    """The same manifest in force across midnight: the call is refused from the first day the
    overdue review is enforced, and a day before it is not (whatever was asked in between)."""
    m = manifest("deny", grace=0)
    due, late = day(0), day(1)
    assert decide(m, "bot", "get_person", "marketo", today=due).allowed
    refused = decide(m, "bot", "get_person", "marketo", today=late)
    assert (refused.allowed, refused.rule_id) == (False, RULE_ID)
    assert not decide(m, "bot", "search_people", "marketo", today=late).allowed
    assert decide(m, "bot", "get_person", "marketo", today=due).allowed
    assert not decide(m, "bot", "get_person", "marketo", today=late).allowed
