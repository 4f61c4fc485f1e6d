"""Policy decisions: default deny, deny wins in any order, floors, production strictness."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from mopsgate.governance.errors import ManifestError
from mopsgate.governance.manifest_load import load_manifest, load_manifest_text
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.policy import (
    approval_requirement,
    approvals_satisfied,
    decide,
    explain,
    field_access,
    rate_limit,
    record_cap,
    reviewer_may_approve,
    visible_tools,
)
from mopsgate.governance.risk import RiskClass
from mopsgate.server.catalogue import build_catalogue

CAT = build_catalogue()
ROOT = Path(__file__).resolve().parents[2]
R = RiskClass

HEAD = """\
version = 1
[connectors.marketo]
environment = "{env}"
[reviewers.lead]
roles = ["mops"]
risk_classes = ["update_fields", "send", "audience", "consent", "lifecycle"]
[reviewers.dpo]
roles = ["compliance"]
risk_classes = ["send", "consent"]
[reviewers.ops2]
roles = ["mops"]
risk_classes = ["update_fields", "send", "audience", "lifecycle"]
[reviewers.ops3]
roles = ["mops"]
risk_classes = ["update_fields", "audience"]
[use_cases.ops]
purpose = "ops"
risk_level = "medium"
review_date = 2027-01-01
[use_cases.ops.owners]
risk = "DPO"
business = "Head of Demand Gen"
technical = "MOPs Lead"
data = "Data Steward"
escalation = "oncall@example.com"
[principals.bot]
use_cases = ["ops"]
[principals.other]
use_cases = ["ops"]
"""

RULES = [
    """[[rules]]
id = "read-all"
effect = "allow"
principals = ["*"]
use_case = "ops"
tools = ["search_people", "get_person", "list_lists"]
""",
    """[[rules]]
id = "bot-write"
effect = "allow"
principals = ["bot"]
use_case = "ops"
tools = ["propose_update_person", "propose_add_to_list", "propose_trigger_campaign"]
connectors = ["marketo", "hubspot"]
write_fields = ["title", "company"]
modes = { update_fields = "propose", audience = "propose", send = "propose" }
approvals = { update_fields = 2 }
max_records_per_change = 50
""",
    """[[rules]]
id = "no-hubspot-people"
effect = "deny"
principals = ["bot"]
tools = ["get_person", "propose_update_person"]
connectors = ["hubspot"]
reason = "HubSpot people are out of scope"
""",
    """[[rules]]
id = "hide-phone"
effect = "deny"
principals = ["*"]
tools = ["*"]
connectors = ["marketo"]
fields = ["phone"]
reason = "phones stay private"
""",
    """[[rules]]
id = "wild"
effect = "allow"
principals = ["other"]
use_case = "ops"
tools = ["*"]
connectors = ["salesforce"]
modes = { update_fields = "propose", send = "propose", delete = "propose" }
""",
]


def build(rules: list[str] = RULES, env: str = "sandbox") -> Manifest:
    return load_manifest_text(HEAD.format(env=env) + "\n".join(rules), "t.toml", CAT)


def all_decisions(m: Manifest) -> dict[tuple[str, str, str | None, str | None], tuple[bool, str]]:
    out = {}
    for principal in ("bot", "other", "ghost"):
        for tool in build_catalogue().tools:
            for conn in (None, *CAT.objects):
                for obj in (None, *(CAT.objects.get(conn or "", {}))):
                    d = decide(m, principal, tool, conn, obj)
                    out[(principal, tool, conn, obj)] = (d.allowed, d.rule_id)
    return out


def test_decisions_do_not_depend_on_rule_order() -> None:
    reference = all_decisions(build())
    rng = random.Random(7)
    for _ in range(5):
        shuffled = list(RULES)
        rng.shuffle(shuffled)
        assert all_decisions(build(shuffled)) == reference


def test_explicit_deny_wins_over_allow() -> None:
    m = build()
    d = decide(m, "bot", "get_person", "hubspot", "contact")
    assert (d.allowed, d.rule_id) == (False, "no-hubspot-people")
    assert "HubSpot people are out of scope" in d.reason
    assert decide(m, "bot", "get_person", "marketo", "lead").allowed
    assert decide(m, "other", "get_person", "hubspot", "contact").allowed


def test_default_deny_and_unknown_principal() -> None:
    m = build()
    d = decide(m, "bot", "find_duplicates", "marketo")
    assert (d.allowed, d.rule_id) == (False, "default-deny")
    assert "ask the manifest owner" in d.reason
    ghost = decide(m, "ghost", "get_person", "marketo")
    assert (ghost.allowed, ghost.rule_id) == (False, "unknown-principal")
    assert "[principals.ghost]" in ghost.reason
    assert visible_tools(m, "ghost") == frozenset()
    assert decide(m, "bot", "no_such_tool").rule_id == "unknown-tool"
    assert decide(m, "bot", "get_person", "nowhere").rule_id == "unknown-connector"


def test_modes_and_wildcards() -> None:
    m = build()
    # propose_trigger_campaign is named, so it is granted; wildcards never grant send/delete.
    assert decide(m, "bot", "propose_trigger_campaign", "marketo").allowed
    assert not decide(m, "other", "propose_trigger_campaign", "salesforce").allowed
    assert not decide(m, "other", "propose_delete_person", "salesforce").allowed
    assert decide(m, "other", "propose_update_person", "salesforce", "Lead").allowed
    # the wildcard rule covers audience tools, but its audience mode is the default "deny"
    d = decide(m, "other", "propose_add_to_list", "salesforce")
    assert (d.allowed, d.rule_id) == (False, "wild")
    assert 'modes.audience = "propose"' in d.reason


def test_connectorless_tools() -> None:
    m = build()
    for tool in ("whoami", "my_permissions", "get_change", "list_my_changes", "cancel_change"):
        assert decide(m, "bot", tool).allowed
    assert decide(m, "bot", "apply_change").rule_id == "bot-write"
    reader = build([RULES[0]])
    d = decide(reader, "bot", "apply_change")
    assert (d.allowed, d.rule_id) == (False, "default-deny")
    assert "propose_revert" not in visible_tools(reader, "bot")
    assert "whoami" in visible_tools(reader, "bot")


def test_visible_tools_hide_what_is_never_allowed() -> None:
    m = build()
    bot = visible_tools(m, "bot")
    assert {"get_person", "propose_update_person", "apply_change"} <= bot
    assert "propose_delete_person" not in bot and "find_duplicates" not in bot


def test_field_access_withholds_and_masks() -> None:
    m = build()
    fa = field_access(m, "bot", "marketo", "lead")
    assert fa.readable is None
    assert "hide-phone" in fa.denied["phone"] and "phones stay private" in fa.denied["phone"]
    assert not fa.can_read("phone") and fa.can_read("email")
    assert fa.writable == {"title", "company"}
    assert "email" in fa.pii_fields and not fa.unmasked_pii and fa.must_mask("email")
    assert fa.rule_ids == ("bot-write", "hide-phone", "read-all")
    nothing = field_access(m, "ghost", "marketo", "lead")
    assert nothing.readable == frozenset() and not nothing.can_read("email")


def test_approvals_defaults_rules_and_floor() -> None:
    m = build()
    upd = approval_requirement(m, "bot", "marketo", R.UPDATE_FIELDS, 1)
    assert (upd.count, upd.rule_id) == (2, "bot-write")  # rule raises the default of 1
    send = approval_requirement(m, "bot", "marketo", R.SEND, 1)
    assert send.count == 2 and send.roles == {"compliance"}
    assert approval_requirement(m, "bot", "marketo", R.READ, 1).count == 0
    assert approval_requirement(m, "bot", "marketo", R.AUDIENCE, 10_000).count == 1
    assert approval_requirement(m, "ghost", "marketo", R.CONSENT, 1).count == 1  # floor


def test_records_over_adds_approvals() -> None:
    text = HEAD.format(env="sandbox") + "[approvals.audience]\nrecords_over = 100\nextra = 2\n"
    m = load_manifest_text(text + "\n".join(RULES), "t.toml", CAT)
    assert approval_requirement(m, "bot", "marketo", R.AUDIENCE, 100).count == 1
    big = approval_requirement(m, "bot", "marketo", R.AUDIENCE, 101)
    assert big.count == 3 and "101 records > 100" in big.reason


def test_production_is_stricter() -> None:
    sandbox, prod = build(), build(env="production")
    for risk in (R.UPDATE_FIELDS, R.AUDIENCE, R.SEND):
        s = approval_requirement(sandbox, "bot", "marketo", risk, 1).count
        assert approval_requirement(prod, "bot", "marketo", risk, 1).count == s + 1
    assert record_cap(sandbox, "bot", "marketo", R.AUDIENCE) == 50
    assert record_cap(sandbox, "other", "salesforce", R.UPDATE_FIELDS) == 200
    assert record_cap(prod, "other", "marketo", R.UPDATE_FIELDS) == 0
    assert rate_limit(sandbox, "bot").calls_per_minute == 120
    assert rate_limit(prod, "bot").calls_per_minute == 60
    assert rate_limit(prod, "bot").records_per_hour == 1000


def test_unmasked_pii_on_production_needs_the_connector_named() -> None:
    wildcard = RULES[0].replace('tools = ["search', 'pii = "unmasked"\ntools = ["search')
    m = build([wildcard], env="production")
    assert field_access(m, "bot", "hubspot", "contact").unmasked_pii
    assert not field_access(m, "bot", "marketo", "lead").unmasked_pii
    named = wildcard.replace('tools = ["search', 'connectors = ["marketo"]\ntools = ["search')
    assert field_access(build([named], env="production"), "bot", "marketo", "lead").unmasked_pii


def test_reviewers_and_n_of_m() -> None:
    m = build()
    assert reviewer_may_approve(m, "lead", R.SEND).allowed
    d = reviewer_may_approve(m, "dpo", R.AUDIENCE)
    assert not d.allowed and "may not approve audience" in d.reason
    assert reviewer_may_approve(m, "nobody", R.SEND).rule_id == "unknown-reviewer"
    assert not approvals_satisfied(m, R.SEND, approval_requirement(m, "bot", "marketo", R.SEND, 1),
                                   ["lead", "ops2"]).allowed  # fmt: skip
    req = approval_requirement(m, "bot", "marketo", R.SEND, 1)
    assert not approvals_satisfied(m, R.SEND, req, ["lead"]).allowed
    assert not approvals_satisfied(m, R.SEND, req, ["lead", "lead"]).allowed
    missing_role = approvals_satisfied(m, R.SEND, req, ["lead", "nobody"])
    assert not missing_role.allowed
    assert approvals_satisfied(m, R.SEND, req, ["lead", "dpo"]).allowed


def test_explain_rows() -> None:
    rows = explain(build(), "bot")
    by_key = {(r.tool, r.connector): r for r in rows}
    upd = by_key[("propose_update_person", "marketo")]
    assert (upd.mode, upd.approvals, upd.cap, upd.rule_id) == ("propose", "2", 50, "bot-write")
    assert "write company, title" in upd.fields
    denied = by_key[("get_person", "hubspot")]
    assert (denied.mode, denied.rule_id) == ("deny", "no-hubspot-people")
    assert by_key[("get_person", "marketo")].fields.startswith("lead: all except phone")
    assert ("find_duplicates", "marketo") not in by_key
    assert explain(build(), "ghost") == []


@pytest.fixture(scope="module")
def shipped() -> Manifest:
    return load_manifest(ROOT / "permissions.toml", CAT)


def test_shipped_assistant_rights(shipped: Manifest) -> None:
    tools = visible_tools(shipped, "assistant")
    assert {"search_people", "get_person", "propose_update_person", "propose_add_to_list",
            "propose_set_campaign_status", "propose_trigger_campaign", "propose_opt_out",
            "apply_change"} <= tools  # fmt: skip
    assert "propose_delete_person" not in tools
    assert decide(shipped, "assistant", "propose_delete_person", "marketo").rule_id == (
        "assistant-no-delete"
    )
    fa = field_access(shipped, "assistant", "marketo", "lead")
    assert not fa.unmasked_pii and {"email", "comments"} <= fa.pii_fields
    assert "title" in fa.writable and not fa.writable & (fa.pii_fields | {"unsubscribed"})
    send = approval_requirement(shipped, "assistant", "marketo", R.SEND, 10)
    assert send.count == 2 and send.roles == {"compliance"}
    for risk in (R.UPDATE_FIELDS, R.AUDIENCE, R.LIFECYCLE, R.CONSENT):
        assert approval_requirement(shipped, "assistant", "hubspot", risk, 10).count == 1


def test_shipped_analyst_rights(shipped: Manifest) -> None:
    tools = visible_tools(shipped, "analyst")
    assert {"search_people", "get_person", "campaign_performance"} <= tools
    assert not {t for t in tools if t.startswith("propose_")} and "apply_change" not in tools
    fa = field_access(shipped, "analyst", "salesforce", "Lead")
    assert not fa.can_read("Phone") and fa.can_read("Email") and fa.must_mask("Email")
    assert "analyst-no-phone" in fa.denied["Phone"]
    assert fa.writable == frozenset()


WILD = """[[rules]]
id = "everything"
effect = "allow"
principals = ["*"]
use_case = "ops"
tools = ["*"]
connectors = ["*"]
objects = ["*"]
modes.update_fields = "propose"
modes.audience = "propose"
modes.lifecycle = "propose"
modes.consent = "propose"
modes.send = "propose"
modes.delete = "propose"
"""


def test_no_wildcard_form_grants_a_send_or_a_delete() -> None:
    """M-09, the matrix: an allow rule with every wildcard (tools, connectors, objects,
    principals) and every mode "propose" is checked against every registered tool on every
    connector and object: a send or delete tool is never allowed (it must be named); other
    write tools are. Wildcard fragments ("*lead*") are not names, and write fields must be
    named."""
    m = build([WILD])
    seen = set()
    for tool, risk in CAT.tools.items():
        for conn in (None, *CAT.objects):
            for obj in (None, *(CAT.objects.get(conn or "", {}))):
                d = decide(m, "bot", tool, conn, obj)
                if risk in (R.SEND, R.DELETE):
                    assert not d.allowed, (tool, conn, obj)
                    seen.add(risk)
    assert seen == {R.SEND, R.DELETE}
    assert decide(m, "bot", "propose_update_person", "salesforce", "Lead").allowed
    named = WILD.replace('tools = ["*"]', 'tools = ["propose_trigger_campaign"]')
    assert decide(build([named]), "bot", "propose_trigger_campaign", "marketo").allowed
    for fragment in ('tools = ["*lead*"]', 'tools = ["propose_*"]', 'objects = ["Le*"]'):
        key = fragment.split(" = ")[0]
        text = HEAD.format(env="sandbox") + WILD.replace(f'{key} = ["*"]', fragment)
        with pytest.raises(ManifestError):
            load_manifest_text(text, "t.toml", CAT)
    fields = WILD + 'write_fields = ["*"]\n'
    with pytest.raises(ManifestError) as exc:
        load_manifest_text(HEAD.format(env="sandbox") + fields, "t.toml", CAT)
    assert any("write_fields must name fields explicitly" in p.message for p in exc.value.problems)
