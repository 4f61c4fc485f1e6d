"""What each tool call is decided on: the connector and object the policy sees.

Every tool's target, for sample arguments, pinned as (connector, object). The decision a
principal gets depends on it, so a change here is a change in who may do what."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from mopsgate.tools.registry import all_specs
from mopsgate.tools.spec import Target

SPECS = all_specs()
WHY = "the user asked for it in these words"
LATER = (datetime.now(UTC) + timedelta(days=30)).isoformat()
HUB = ["hubspot:contact:1", "hubspot:contact:2"]

CASES: list[tuple[str, dict[str, Any], tuple[str | None, str | None]]] = [
    ("whoami", {}, (None, None)),
    ("my_permissions", {}, (None, None)),
    ("search_people", {"connector": "hubspot"}, ("hubspot", None)),
    ("search_people", {"connector": "salesforce", "object": "Contact"}, ("salesforce", "Contact")),
    # the list's object stands in for a missing person object (as it always has)
    ("search_people", {"connector": "hubspot", "list_ref": "hubspot:list:5"}, ("hubspot", "list")),
    ("get_person", {"ref": "salesforce:Lead:00Q1"}, ("salesforce", "Lead")),
    ("describe_fields", {"connector": "marketo"}, ("marketo", None)),
    ("describe_fields", {"connector": "salesforce", "object": "Lead"}, ("salesforce", "Lead")),
    ("get_consent_state", {"ref": "hubspot:contact:7"}, ("hubspot", "contact")),
    ("api_budget", {"connector": "salesforce"}, ("salesforce", None)),
    ("list_lists", {"connector": "marketo"}, ("marketo", None)),
    ("list_members", {"list_ref": "marketo:list:1001"}, ("marketo", "list")),
    ("get_person_memberships", {"person_ref": "hubspot:contact:3"}, ("hubspot", "contact")),
    ("list_campaigns", {"connector": "hubspot"}, ("hubspot", None)),
    ("get_campaign", {"campaign_ref": "marketo:program:1001"}, ("marketo", "program")),
    (
        "campaign_performance",
        {"campaign_ref": "salesforce:Campaign:701"},
        ("salesforce", "Campaign"),
    ),
    ("get_activities", {"person_ref": "marketo:lead:5"}, ("marketo", "lead")),
    ("get_activities", {"campaign_ref": "hubspot:campaign:9"}, ("hubspot", "campaign")),
    (
        "get_activities",
        {"connector": "hubspot", "campaign_ref": "hubspot:campaign:9"},
        ("hubspot", "campaign"),
    ),
    ("get_activities", {"connector": "marketo"}, ("marketo", None)),
    ("find_consent_conflicts", {"connector": "hubspot"}, ("hubspot", None)),
    (
        "find_consent_conflicts",
        {"connector": "marketo", "campaign_ref": "marketo:program:1"},
        ("marketo", "program"),
    ),
    ("find_duplicates", {"connector": "salesforce"}, ("salesforce", None)),
    (
        "find_duplicates",
        {"connector": "hubspot", "list_ref": "hubspot:list:5"},
        ("hubspot", "list"),
    ),
    (
        "propose_update_person",
        {"refs": HUB, "fields": {"jobtitle": "CMO"}, "reason": WHY},
        ("hubspot", "contact"),
    ),
    (
        "propose_update_person",
        {
            "refs": ["salesforce:Lead:00Q1", "salesforce:Contact:0031"],
            "fields": {"Title": "CMO"},
            "reason": WHY,
        },
        ("salesforce", None),
    ),
    (
        "propose_update_person",
        {"refs": ["hubspot:contact:1", "marketo:lead:1"], "fields": {"a": 1}, "reason": WHY},
        (None, None),
    ),
    (
        "propose_add_to_list",
        {"list_ref": "hubspot:list:5", "person_refs": HUB, "reason": WHY},
        ("hubspot", "list"),
    ),
    (
        "propose_remove_from_list",
        {
            "list_ref": "salesforce:Campaign:701",
            "person_refs": ["salesforce:Lead:1"],
            "reason": WHY,
        },
        ("salesforce", "Campaign"),
    ),
    (
        "propose_set_campaign_status",
        {
            "campaign_ref": "marketo:program:1001",
            "person_refs": ["marketo:lead:1"],
            "status": "Attended",
            "reason": WHY,
        },
        ("marketo", "program"),
    ),
    (
        "propose_trigger_campaign",
        {
            "campaign_ref": "marketo:smart_campaign:7",
            "person_refs": ["marketo:lead:1"],
            "reason": WHY,
        },
        ("marketo", "smart_campaign"),
    ),
    (
        "propose_schedule_campaign",
        {"campaign_ref": "marketo:smart_campaign:7", "run_at": LATER, "reason": WHY},
        ("marketo", "smart_campaign"),
    ),
    (
        "propose_opt_out",
        {"connector": "hubspot", "person_refs": HUB, "reason": WHY},
        ("hubspot", "contact"),
    ),
    (
        "propose_delete_person",
        {"connector": "salesforce", "person_refs": ["salesforce:Lead:1"], "reason": WHY},
        ("salesforce", "Lead"),
    ),
    # cross-system reads span connectors: each connector is decided inside the tool
    ("resolve_person", {"refs": ["marketo:lead:5"]}, (None, None)),
    ("resolve_person", {"emails": ["a@b.test"], "connectors": ["hubspot"]}, (None, None)),
    ("find_cross_system_drift", {}, (None, None)),
    ("get_list_usage", {"list_ref": "salesforce:Campaign:701"}, ("salesforce", "Campaign")),
    (
        "campaign_report",
        {"campaign_refs": ["marketo:program:1", "marketo:smart_campaign:2"]},
        ("marketo", None),
    ),
    ("campaign_report", {"campaign_refs": ["hubspot:campaign:9"]}, ("hubspot", "campaign")),
    ("propose_archive_list", {"list_ref": "hubspot:list:5", "reason": WHY}, ("hubspot", "list")),
    (
        "propose_merge_people",
        {"survivor": "hubspot:contact:1", "losers": ["hubspot:contact:2"], "reason": WHY},
        ("hubspot", "contact"),
    ),
    (
        "propose_merge_people",
        {"survivor": "hubspot:contact:1", "losers": ["marketo:lead:2"], "reason": WHY},
        (None, None),
    ),
    ("list_owners", {"connector": "salesforce"}, ("salesforce", None)),
    (
        "propose_reassign_owner",
        {
            "connector": "salesforce",
            "object": "Lead",
            "from_owner": "salesforce:User:0055e0000000003",
            "to_owner": "salesforce:User:0055e0000000000",
            "reason": WHY,
        },
        ("salesforce", "Lead"),
    ),
    # changes across connectors: each connector they touch is decided inside the tool
    ("propose_opt_out_everywhere", {"emails": ["a@b.test"], "reason": WHY}, (None, None)),
    (
        "propose_add_to_list_everywhere",
        {"list_refs": ["marketo:list:1", "hubspot:list:2"], "refs": HUB, "reason": WHY},
        (None, None),
    ),
    ("propose_revert", {"change_id": "chg_0123456789ab", "reason": WHY}, (None, None)),
    ("propose_finish", {"change_id": "chg_0123456789ab", "reason": WHY}, (None, None)),
    ("get_change", {"change_id": "chg_0123456789ab"}, (None, None)),
    ("list_my_changes", {}, (None, None)),
    ("cancel_change", {"change_id": "chg_0123456789ab"}, (None, None)),
    (
        "apply_change",
        {"change_id": "chg_0123456789ab", "confirmation_token": "x" * 20},
        (None, None),
    ),
]


def test_every_tool_has_a_pinned_target():
    assert {name for name, _, _ in CASES} == set(SPECS)


@pytest.mark.parametrize(("tool", "arguments", "expected"), CASES)
def test_target(tool: str, arguments: dict[str, Any], expected: tuple[str | None, str | None]):
    spec = SPECS[tool]
    args = spec.input_model.model_validate(arguments)
    assert args.target() == Target(*expected)
