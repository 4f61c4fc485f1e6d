"""Review cadence (on_overdue after a grace period) and the use case a decision runs under."""

from __future__ import annotations

import datetime as dt

import pytest

from mopsgate.governance.cadence import RULE_ID, review_status
from mopsgate.governance.manifest_load import load_manifest_text
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.policy import AMBIGUOUS, UNKNOWN_USE_CASE, decide, explain, visible_tools
from mopsgate.server.catalogue import build_catalogue

CAT = build_catalogue()
DUE = dt.date(2027, 3, 1)
OWNERS = """risk = "DPO"
business = "Head of Demand Gen"
technical = "MOPs Lead"
data = "Data Steward"
escalation = "oncall@example.com"
"""


def manifest(on_overdue: str = "warn", grace: int = 14, *, second_case: bool = False) -> Manifest:
    text = f"""version = 1
[reviewers.lead]
roles = ["mops"]
risk_classes = ["update_fields"]
[use_cases.ops]
purpose = "ops"
risk_level = "medium"
review_date = {DUE}
on_overdue = "{on_overdue}"
grace_days = {grace}
[use_cases.ops.owners]
{OWNERS}
[use_cases.hygiene]
purpose = "hygiene"
risk_level = "low"
review_date = 2099-01-01
[use_cases.hygiene.owners]
risk = "DPO"
[principals.bot]
use_cases = ["ops"{', "hygiene"' if second_case else ""}]
[[rules]]
id = "ops-read"
effect = "allow"
principals = ["bot"]
use_case = "ops"
tools = ["get_person", "search_people"]
[[rules]]
id = "ops-write"
effect = "allow"
principals = ["bot"]
use_case = "ops"
tools = ["propose_update_person"]
connectors = ["marketo"]
write_fields = ["title"]
modes = {{ update_fields = "propose" }}
"""
    if second_case:
        text += """[[rules]]
id = "hygiene-read"
effect = "allow"
principals = ["bot"]
use_case = "hygiene"
tools = ["get_person", "find_duplicates"]
connectors = ["marketo"]
"""
    return load_manifest_text(text, "t.toml", CAT)


def day(offset: int) -> dt.date:
    return DUE + dt.timedelta(days=offset)


def test_review_status_boundaries() -> None:
    uc = manifest("deny", grace=14).use_cases["ops"]
    on_due = review_status("ops", uc, day(0))
    assert (on_due.overdue, on_due.enforced, on_due.state) == (False, False, "current")
    late = review_status("ops", uc, day(1))
    assert (late.overdue, late.days_overdue, late.enforced, late.state) == (
        True,
        1,
        False,
        "overdue",
    )
    assert late.enforced_from == day(15)
    assert "from 2027-03-16 every call under it is refused" in late.describe()
    assert review_status("ops", uc, day(14)).enforced is False
    assert review_status("ops", uc, day(15)).state == "enforced"


@pytest.mark.parametrize("offset", [1, 14, 15, 400])
def test_warn_never_refuses(offset: int) -> None:
    m = manifest("warn")
    for tool, conn in (("get_person", "marketo"), ("propose_update_person", "marketo")):
        assert decide(m, "bot", tool, conn, today=day(offset)).allowed
    assert decide(m, "bot", "apply_change", today=day(offset)).allowed
    assert review_status("ops", m.use_cases["ops"], day(offset)).state == "overdue"


def test_propose_only_stops_applies_after_grace() -> None:
    m = manifest("propose_only", grace=3)
    assert decide(m, "bot", "apply_change", today=day(3)).allowed  # still in grace
    refused = decide(m, "bot", "apply_change", today=day(4))
    assert (refused.allowed, refused.rule_id, refused.use_case) == (False, RULE_ID, "ops")
    assert "was due for review on 2027-03-01 (4 day(s) overdue)" in refused.reason
    assert "nothing under it is applied until it is reviewed" in refused.reason
    assert "Ask DPO or oncall@example.com to review use case 'ops'" in refused.reason
    for tool in ("get_person", "propose_update_person"):
        assert decide(m, "bot", tool, "marketo", today=day(4)).allowed, tool
    assert decide(m, "bot", "propose_revert", today=day(4)).allowed


def test_deny_refuses_every_call_under_the_use_case_after_grace() -> None:
    m = manifest("deny", grace=0)
    assert decide(m, "bot", "get_person", "marketo", today=day(0)).allowed
    for tool, conn in (
        ("get_person", "marketo"),
        ("search_people", "hubspot"),
        ("propose_update_person", "marketo"),
        ("apply_change", None),
    ):
        d = decide(m, "bot", tool, conn, today=day(1))
        assert (d.allowed, d.rule_id) == (False, RULE_ID), tool
        assert "every call under it is refused" in d.reason
    # Self-service stays: the assistant can still find out why it is refused.
    assert decide(m, "bot", "whoami", today=day(1)).allowed
    # Tools stay listed, so a call can say why it is refused.
    assert "get_person" in visible_tools(m, "bot")
    rows = {(r.tool, r.connector): r for r in explain(m, "bot", today=day(1))}
    assert rows[("get_person", "marketo")].mode == "deny"
    assert rows[("get_person", "marketo")].rule_id == RULE_ID
    assert rows[("whoami", None)].mode == "read"
    assert explain(m, "bot", today=day(0))[0].rule_id != RULE_ID


def test_an_overdue_use_case_does_not_stop_another() -> None:
    m = manifest("deny", grace=0, second_case=True)
    d = decide(m, "bot", "find_duplicates", "marketo", today=day(30))
    assert (d.allowed, d.use_case) == (True, "hygiene")
    d = decide(m, "bot", "get_person", "marketo", use_case="hygiene", today=day(30))
    assert (d.allowed, d.use_case, d.rule_id) == (True, "hygiene", "hygiene-read")
    d = decide(m, "bot", "get_person", "marketo", use_case="ops", today=day(30))
    assert (d.allowed, d.rule_id) == (False, RULE_ID)


def test_decisions_carry_the_use_case_of_the_deciding_rule() -> None:
    m = manifest()
    assert decide(m, "bot", "get_person", "marketo", today=day(0)).use_case == "ops"
    assert decide(m, "bot", "whoami", today=day(0)).use_case == "ops"
    assert decide(m, "bot", "apply_change", today=day(0)).use_case == "ops"
    denied = decide(m, "bot", "propose_update_person", "hubspot", today=day(0))
    assert (denied.allowed, denied.use_case) == (False, None)


def test_ambiguous_use_case_is_refused_with_the_candidates() -> None:
    m = manifest(second_case=True)
    d = decide(m, "bot", "get_person", "marketo", today=day(0))
    assert (d.allowed, d.rule_id, d.candidates) == (False, AMBIGUOUS, ("hygiene", "ops"))
    assert "several use cases (hygiene, ops)" in d.reason and "use_case argument" in d.reason
    # Only one of them covers hubspot: no choice to make.
    d = decide(m, "bot", "get_person", "hubspot", today=day(0))
    assert (d.allowed, d.use_case) == (True, "ops")
    # Listed and explained: the rights exist, the call must name one.
    assert "get_person" in visible_tools(m, "bot")
    row = next(
        r
        for r in explain(m, "bot", today=day(0))
        if (r.tool, r.connector) == ("get_person", "marketo")
    )
    assert (row.mode, row.rule_id) == ("read", AMBIGUOUS)
    # Whoami has nothing to choose between: it belongs to no use case then.
    assert decide(m, "bot", "whoami", today=day(0)).use_case is None


def test_a_named_use_case_must_be_yours_and_cover_the_call() -> None:
    m = manifest(second_case=True)
    d = decide(m, "bot", "get_person", "marketo", use_case="sales", today=day(0))
    assert (d.allowed, d.rule_id) == (False, UNKNOWN_USE_CASE)
    assert "name one of: ops, hygiene" in d.reason
    d = decide(m, "bot", "search_people", "marketo", use_case="hygiene", today=day(0))
    assert not d.allowed and d.rule_id == "ops-read"
    assert "use case 'hygiene' does not allow search_people on marketo" in d.reason
    assert "allowed under use case 'ops'" in d.reason
