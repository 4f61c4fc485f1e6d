"""What the tools tell a model must be true (issue #17, item 7): each test is a text that used
to mislead — a field reported unwritable that is writable, an unknown read as "no", an approval
nobody was named for, a lost token with no way out, a cap that hid the split it allows, an
input error blamed on the vendor, hints that called cancel read-only and apply harmless."""

from __future__ import annotations

import pytest

from mopsgate.crm.records import Campaign
from mopsgate.governance.errors import FloorViolation
from mopsgate.governance.planning import schedule_audience
from mopsgate.governance.send_lists import sends_email
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.server.e2e_support import VENDORS as E2E
from tests.server.test_changes_kit import people
from tests.tools.seed_facts import NAMES
from tests.tools.test_reads_per_vendor import ok, refused

REASON = "The user asked for this in the weekly clean-up"
# The shipped manifest's write_fields for the assistant, per connector (a sample of each).
WRITABLE = {"marketo": "title", "hubspot": "jobtitle", "salesforce": "Title"}


@pytest.mark.parametrize("name", NAMES)
async def test_describe_fields_says_which_fields_you_may_change(name, connect):
    async with connect("assistant") as client:
        mine = await ok(client, "describe_fields", {"connector": name})
    async with connect("analyst") as client:
        theirs = await ok(client, "describe_fields", {"connector": name})
    writable = {f["name"] for f in mine["fields"] if f["writable_by_you"]}
    assert WRITABLE[name] in writable
    assert "email" not in {w.casefold() for w in writable}  # PII is not in write_fields
    consent = {f["name"] for f in mine["fields"] if f["consent"]}
    assert consent and not consent & writable  # consent fields are never written by an update
    assert not any(f["writable_by_you"] for f in theirs["fields"])  # the analyst proposes nothing


async def test_a_listing_says_unknown_never_no(connect):
    async with connect("assistant") as client:
        hub = await ok(client, "list_campaigns", {"connector": "hubspot"})
        full = [await ok(client, "get_campaign", {"campaign_ref": c["ref"]}) for c in hub["items"]]
        mkto = await ok(client, "list_campaigns", {"connector": "marketo", "limit": 100})
    assert hub["items"] and all(c["sends_email"] is None for c in hub["items"])
    assert all(c["audience_known"] is False for c in hub["items"])
    assert {type(c["sends_email"]) for c in full} == {bool}
    assert any(c["sends_email"] for c in full)  # the listing's null hid real sends
    smart = [c for c in mkto["items"] if c["kind"] == "smart_campaign"]
    assert smart and all(c["audience_known"] is False for c in smart)


async def test_the_floor_treats_an_unknown_sender_as_a_send():
    unknown = Campaign(ref="hubspot:campaign:1", name="x", kind="marketing_campaign")
    assert unknown.sends_email is None and sends_email(unknown)
    assert not sends_email(unknown.model_copy(update={"sends_email": False}))
    with pytest.raises(FloorViolation, match="cannot be established"):
        await schedule_audience(None, unknown)  # type: ignore[arg-type]  # refused before a read


async def test_proposals_name_who_can_approve_and_what_a_lost_token_means(connect):
    hub = E2E["hubspot"]
    idx = people("subscribed", 1, start=40)
    async with connect("assistant") as client:
        opt = await ok(
            client,
            "propose_opt_out",
            {"connector": "hubspot", "person_refs": [hub.ref(idx[0])], "reason": REASON},
        )
        upd = await ok(
            client,
            "propose_update_person",
            {"refs": [hub.ref(idx[0])], "fields": {"jobtitle": "VP Ops"}, "reason": REASON},
        )
        seen = await ok(client, "get_change", {"change_id": opt["change_id"]})
        tools = {t.name: t for t in (await client.list_tools()).tools}
    # only compliance may approve consent changes in the shipped manifest
    assert opt["approvals"]["who_can_approve"] == ["compliance (compliance)"]
    assert "compliance (compliance)" in opt["next_steps"]
    assert "a human reviewer must approve" not in opt["next_steps"]
    assert upd["approvals"]["who_can_approve"] == ["compliance (compliance)", "mops-lead (mops)"]
    for text in (opt["next_steps"], seen["next_steps"], tools["get_change"].description or ""):
        assert "propose" in text and "cancel_change" in text, text
    assert "confirmation_token" not in seen  # get_change never returns it, and says so
    assert "never return" in seen["next_steps"]


async def test_the_caps_are_published_per_principal_and_the_refusal_offers_the_split(
    connect,
):
    hub = E2E["hubspot"]
    refs = [hub.ref(i) for i in people("any", 201, start=300)]
    async with connect("assistant") as client:
        tools = {t.name: t.description or "" for t in (await client.list_tools()).tools}
        text = await refused(
            client,
            "propose_update_person",
            {"refs": refs, "fields": {"jobtitle": "VP Ops"}, "reason": REASON},
        )
    for name in ("propose_update_person", "propose_add_to_list", "propose_opt_out"):
        assert "at most 200 records per change on marketo, hubspot, salesforce" in tools[name]
        assert "2000 records per hour" in tools[name]
    assert "Your limits" not in tools["search_people"]
    assert "the cap for update_fields changes on hubspot is 200" in text
    assert "Split it into 2 changes of at most 200 records each" in text
    assert "has room for all 201" in text


async def test_an_owner_name_where_an_id_goes_is_an_input_error(connect, settings: Settings):
    async with connect("assistant") as client:
        text = await refused(
            client, "search_people", {"connector": "salesforce", "owner_id": "Jane Smith"}
        )
    assert text.startswith("[invalid_input] salesforce refused the input"), text
    assert "platform owner" not in text
    assert audit_rows(settings)[-1]["error_code"] == "invalid_input"


async def test_cancel_is_not_read_only_and_apply_is_destructive(connect):
    async with connect("assistant") as client:
        hints = {t.name: t.annotations for t in (await client.list_tools()).tools}
    assert hints["cancel_change"].read_only_hint is False
    assert hints["cancel_change"].destructive_hint is False
    assert hints["apply_change"].read_only_hint is False
    assert hints["apply_change"].destructive_hint is True
    assert hints["apply_change"].idempotent_hint is False
    assert hints["get_change"].read_only_hint is True
