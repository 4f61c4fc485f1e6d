"""The Marketo emulator as ``marketorestpython`` (the maintained REST client) and mopsgate's own
client meet it over loopback HTTP.

The library throttles itself to 5 calls a second per HTTP verb, process-wide, so the calls are
few and each checks something the issue names: the ``_method=GET`` override (form body, query
string, JSON body), Sync Leads' actions and lookup fields, v1 describe, lead changes, list
``ismember``, ``DELETE leads.json``, leads by program and their status, the asset API's static
list, and errors as HTTP 200 envelopes. Rate-limit and expiry behaviour are tested with
mopsgate's client elsewhere: this library's retries drop the token (see research-11).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from marketorestpython.client import MarketoClient as Library

from mopsgate.connectors.marketo.client import MarketoClient
from mopsgate.crm.records import PersonUpdate
from mopsgate.sandbox.marketo import MarketoEmulator
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.seed import seed_data

SEED = seed_data()
SMALL_LIST = 6  # "Suppression - Competitors": 40 members, one page


@pytest.fixture
def emu() -> MarketoEmulator:
    return MarketoEmulator(SEED)


@pytest.fixture
def lib(emu: MarketoEmulator, serve: Callable[[Any], str]) -> Library:
    client = Library("000-AAA-000", "sandbox", "sandbox", max_retry_time=1, requests_timeout=5)
    client.host = serve(emu.app)  # it builds https://<munchkin>.mktorest.com otherwise
    return client


def _error(call: Callable[[], Any]) -> dict[str, Any]:
    """The ``{'code', 'message'}`` the library raises for a ``success: false`` envelope."""
    with pytest.raises(Exception) as caught:  # the library raises a bare Exception
        call()
    found: dict[str, Any] = caught.value.args[0]
    return found


def test_reads_through_the_get_override(lib: Library, emu: MarketoEmulator):
    person = SEED.people[3]
    by_email = lib.execute(  # POST leads.json, form body with _method=GET and repeated fields
        "get_multiple_leads_by_filter_type",
        filterType="email",
        filterValues=[person.email.upper()],
        fields=["email", "title"],
    )
    assert by_email == [{"id": mk.lead_id(3), "email": person.email, "title": person.title}]

    members = SEED.lists[SMALL_LIST].members
    listed = lib.execute(  # POST list/{id}/leads.json?_method=GET, form body batchSize=300
        "get_multiple_leads_by_list_id", listId=mk.list_id(SMALL_LIST), fields=["email"]
    )
    assert [r["id"] for r in listed] == [mk.lead_id(i) for i in members]

    outsider = next(p.idx for p in SEED.people if p.idx not in members)
    checked = lib.execute(  # POST …/ismember.json?_method=GET with a JSON body
        "member_of_list",
        listId=mk.list_id(SMALL_LIST),
        id=[mk.lead_id(members[0]), mk.lead_id(outsider), 999_999],
    )
    assert [(r["id"], r["status"]) for r in checked] == [
        (mk.lead_id(members[0]), "memberof"),
        (mk.lead_id(outsider), "notmemberof"),
        (999_999, "skipped"),
    ]

    described = {f["rest"]["name"]: f for f in lib.execute("describe")}
    assert described["email"]["displayName"] == "Email Address"
    assert described["id"]["rest"]["readOnly"] is True

    campaigns = lib.execute("get_multiple_campaigns")  # POST campaigns.json?_method=GET
    assert len(campaigns) == len(SEED.campaigns)
    static = lib.execute("get_list_by_id", id=mk.list_id(0))  # asset API staticList
    assert static[0]["name"] == SEED.lists[0].name

    unknown = _error(lambda: lib.execute("get_lead_partitions"))
    assert unknown["code"] == "610"
    assert emu.core.requests[-1].status == 200  # an error is an envelope, not an HTTP status


def test_sync_leads_actions_and_delete(lib: Library, emu: MarketoEmulator):
    existing = SEED.people[5]
    synced = lib.execute(  # no action, no lookupField: createOrUpdate on email
        "create_update_leads",
        leads=[
            {"email": "new.person@example.test", "firstName": "New"},
            {"email": existing.email.upper(), "title": "Chief Sync Officer"},
        ],
    )
    created = synced[0]["id"]
    assert synced == [
        {"id": created, "status": "created"},
        {"id": mk.lead_id(5), "status": "updated"},
    ]
    assert created > mk.lead_id(len(SEED.people) - 1)
    assert emu.person_fields(created)["firstName"] == "New"
    assert emu.person_fields(mk.lead_id(5))["email"] == existing.email  # the key is kept

    again = lib.execute(
        "create_update_leads", leads=[{"email": "new.person@example.test"}], action="createOnly"
    )
    assert again[0]["status"] == "skipped" and again[0]["reasons"][0]["code"] == "1005"
    nobody = lib.execute(
        "create_update_leads",
        leads=[{"email": "nobody@example.test", "title": "x"}],
        action="updateOnly",
        lookupField="email",
    )
    assert nobody[0]["reasons"][0]["code"] == "1004"
    refused = _error(
        lambda: lib.execute("create_update_leads", leads=[{"id": 1}], lookupField="id")
    )
    assert refused["code"] == "1003"  # id only with updateOnly

    since = (datetime.now(UTC) - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ")
    changes = lib.execute("get_lead_changes", fields=["title"], sinceDatetime=since)
    assert [(c["leadId"], c["activityTypeId"], c["fields"]) for c in changes] == [
        (created, 12, []),
        (
            mk.lead_id(5),
            13,
            [
                {
                    "id": 6,
                    "name": "title",
                    "newValue": "Chief Sync Officer",
                    "oldValue": existing.title,
                }
            ],
        ),
    ]

    deleted = lib.execute("delete_lead", id=[created])  # DELETE leads.json, JSON body
    assert deleted == [{"id": created, "status": "deleted"}]
    assert lib.execute("get_lead_by_id", id=created) == []


def test_program_members_and_their_status(lib: Library, emu: MarketoEmulator):
    camp = SEED.campaigns[0]
    program = mk.program_id(camp.idx)
    leads = lib.execute("get_multiple_leads_by_program_id", programId=program, fields=["email"])
    by_id = {r["id"]: r for r in leads}
    assert sorted(by_id) == sorted(mk.lead_id(i) for i, _ in camp.members)
    first, status = camp.members[0]
    assert by_id[mk.lead_id(first)]["membership"]["progressionStatus"] == status

    outsider = next(p.idx for p in SEED.people if p.idx not in dict(camp.members))
    step = camp.ladder[0][0]
    changed = lib.execute(
        "change_lead_program_status", id=program, leadIds=[mk.lead_id(outsider)], status=step
    )
    assert changed == [{"id": mk.lead_id(outsider), "status": "created"}]
    assert emu.campaign_member_status(program, mk.lead_id(outsider)) == step


async def test_mopsgate_client_over_loopback(emu: MarketoEmulator, serve: Callable[[Any], str]):
    base = serve(emu.app)
    client = MarketoClient(base, "sandbox", "sandbox")
    ref = mk.lead_ref(8)
    [done] = await client.update_people([PersonUpdate(ref=ref, fields={"title": "Looped"})])
    assert done.ok
    assert (await client.get_person(ref)).fields["title"] == "Looped"
    await client.aclose()


async def test_http_level_refusals_and_the_override_in_a_form_body(emu: MarketoEmulator):
    token, _ttl = emu.core.issue_token()
    auth = {"Authorization": f"Bearer {token}"}
    transport = httpx.ASGITransport(app=emu.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://mkto.test") as http:
        long = await http.get("/rest/v1/leads.json?filterValues=" + "a" * 9000, headers=auth)
        assert long.status_code == 414
        big = await http.post("/rest/v1/leads.json", content=b"x" * (1024 * 1024 + 1))
        assert big.status_code == 413
        form = await http.post(  # _method only in the form: a GET, not a Sync Leads
            "/rest/v1/leads.json",
            data={"_method": "GET", "filterType": "id", "filterValues": str(mk.lead_id(2))},
            headers=auth,
        )
        assert form.json()["result"][0]["id"] == mk.lead_id(2)
        bad = await http.post("/rest/v1/leads.json", content=b"{not json", headers=auth)
        assert bad.status_code == 200 and bad.json()["errors"][0]["code"] == "609"
    assert [r.method for r in emu.core.requests] == ["GET", "POST"]
    assert emu.core.write_requests[-1].path == "/rest/v1/leads.json"  # only the real sync
