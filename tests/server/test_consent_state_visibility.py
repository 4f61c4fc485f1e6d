"""get_consent_state tells a principal only what the manifest lets it read.

The attack: ask for the consent verdict of a record you may read, to learn about a record or a
field you may not — the opt-out of a Salesforce Contact through its Lead duplicate, a
withheld opt-out field through the status derived from it, the country of a person through
the express-consent reason. Each answer must keep the verdict where the caller may have it,
withhold the rest and say so (``withheld``), and the audit row must name only the records the
answer showed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mopsgate.sandbox.seed import NO_CONSENT_EVIDENCE
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.server.e2e_support import VENDORS
from tests.server.test_changes_kit import MK, ok, refused
from tests.server.test_floor_duplicates import DUP, OPTED_OUT
from tests.support.unpaced import unpaced_runtime  # noqa: F401 - the runtime fixture here

SF = VENDORS["salesforce"]
CHECKER = "consent-checker"
PRINCIPAL = f"""
[principals.{CHECKER}]
description = "Checks consent before a send, and nothing more."
use_cases = ["reporting"]
"""


def _grant(manifest_path: Path, objects: str, *rules: str) -> None:
    allow = f"""
[[rules]]
id = "checker-reads"
effect = "allow"
principals = ["{CHECKER}"]
use_case = "reporting"
tools = ["get_consent_state", "get_person", "search_people"]
connectors = ["*"]
objects = [{objects}]
read_fields = ["*"]
pii = "masked"
"""
    manifest_path.write_text(manifest_path.read_text() + PRINCIPAL + allow + "".join(rules))


def _deny(rule_id: str, connector: str, objects: str, fields: str) -> str:
    return f"""
[[rules]]
id = "{rule_id}"
effect = "deny"
principals = ["{CHECKER}"]
tools = ["*"]
connectors = ["{connector}"]
objects = [{objects}]
fields = [{fields}]
reason = "Consent is checked, not read field by field."
"""


def _rows(settings: Settings, principal: str) -> list[dict[str, Any]]:
    return [
        r
        for r in audit_rows(settings)
        if r["tool"] == "get_consent_state" and r["principal"] == principal
    ]


def _records(row: dict[str, Any]) -> list[str]:
    return list(json.loads(str(row["records"])))


async def test_a_lead_reader_is_not_told_which_contact_blocks_the_lead(
    connect, settings: Settings, manifest_path: Path
):
    """On Salesforce, Lead 221 is a subscribed duplicate of Contact 149, who opted out. The
    assistant (reads every object) is told so, and its audit row names both records; a
    principal that may read Leads only learns that 221 may not be emailed, nothing of 149."""
    _grant(manifest_path, '"Lead"')
    dup, blocker = SF.ref(DUP), SF.ref(OPTED_OUT)
    assert (dup.split(":")[1], blocker.split(":")[1]) == ("Lead", "Contact")
    async with connect("assistant") as client:
        told = await ok(client, "get_consent_state", ref=dup)
    assert told["blocked_by_ref"] == blocker and blocker in told["explanation"]
    async with connect(CHECKER) as client:
        state = await ok(client, "get_consent_state", ref=dup)
    assert state["consent"]["status"] == "subscribed"
    assert state["sendable"] is False and state["blocked_by_ref"] is None
    text = json.dumps(state)
    assert blocker not in text and blocker.rsplit(":", 1)[1] not in text
    assert "opted out" not in state["explanation"]
    assert [w["field"] for w in state["withheld"]] == ["explanation"]
    assert "withheld" in state["explanation"]
    (mine,) = _rows(settings, CHECKER)
    assert (mine["outcome"], _records(mine)) == ("ok", [dup])
    assert blocker not in json.dumps(mine)
    (theirs,) = _rows(settings, "assistant")
    assert _records(theirs) == [dup, blocker]


async def test_a_withheld_field_of_the_blocking_record_withholds_the_reason(
    connect, settings: Settings, manifest_path: Path
):
    """The principal may read Leads and Contacts, but not a Contact's opt-out field: the
    reason (149 opted out) rests on that field, so it is withheld like the record."""
    _grant(
        manifest_path,
        '"*"',
        _deny("checker-no-contact-optout", "salesforce", '"Contact"', '"HasOptedOutOfEmail"'),
    )
    async with connect(CHECKER) as client:
        state = await ok(client, "get_consent_state", ref=SF.ref(DUP))
        contact = await ok(client, "get_consent_state", ref=SF.ref(OPTED_OUT))
        person = await ok(client, "get_person", ref=SF.ref(OPTED_OUT))
    assert state["sendable"] is False and state["blocked_by_ref"] is None
    assert SF.ref(OPTED_OUT) not in json.dumps(state)
    # the Contact's own status is derived from the withheld field: withheld too, and said so
    for shown in (contact["consent"], person["consent"]):
        assert shown["status"] == "withheld" and shown["email_opt_out"] is None
    assert contact["sendable"] is None
    assert contact["withheld"] == [
        {
            "field": "HasOptedOutOfEmail",
            "reason": "Consent is checked, not read field by field. "
            "(rule 'checker-no-contact-optout')",
        }
    ]
    assert "opted" not in json.dumps(contact)
    rows = _rows(settings, CHECKER)
    assert [(r["outcome"], _records(r)) for r in rows] == [
        ("ok", [SF.ref(DUP)]),
        ("ok", [SF.ref(OPTED_OUT)]),
    ]


async def test_the_express_consent_reason_is_withheld_from_who_may_not_read_the_country(
    connect, settings: Settings, manifest_path: Path
):
    """A Canadian without consent evidence: the reason names the country, so a principal
    denied the country field is told only that the person may not be emailed."""
    bad = NO_CONSENT_EVIDENCE[0]
    _grant(manifest_path, '"*"', _deny("checker-no-country", "marketo", '"*"', '"country"'))
    async with connect("assistant") as client:
        told = await ok(client, "get_consent_state", ref=MK.ref(bad))
    assert "CA" in told["explanation"] and told["sendable"] is False
    async with connect(CHECKER) as client:
        state = await ok(client, "get_consent_state", ref=MK.ref(bad))
    assert state["sendable"] is False and state["consent"]["status"] == "subscribed"
    assert "CA" not in state["explanation"] and "CASL" not in state["explanation"]
    assert [w["field"] for w in state["withheld"]] == ["explanation"]
    (row,) = _rows(settings, CHECKER)
    assert (row["outcome"], _records(row)) == ("ok", [MK.ref(bad)])


async def test_who_may_read_every_consent_field_sees_the_whole_verdict(
    connect, settings: Settings, manifest_path: Path
):
    """The same principal without the deny rules is told everything (nothing is withheld
    for its own sake)."""
    _grant(manifest_path, '"*"')
    async with connect(CHECKER) as client:
        state = await ok(client, "get_consent_state", ref=SF.ref(DUP))
    assert state["blocked_by_ref"] == SF.ref(OPTED_OUT) and state["withheld"] == []
    (row,) = _rows(settings, CHECKER)
    assert _records(row) == [SF.ref(DUP), SF.ref(OPTED_OUT)]


async def test_searching_or_counting_by_consent_needs_the_fields_it_rests_on(
    connect, runtime: Runtime, settings: Settings, manifest_path: Path
):
    """Who may not read the opt-out field must not find or count people by the status read
    off it: the consent filter and group_by consent are refused before any vendor call, like
    a filter on any other withheld field; a grouping on a readable field still works."""
    _grant(
        manifest_path,
        '"*"',
        _deny("checker-no-optout", "salesforce", '"*"', '"HasOptedOutOfEmail"'),
    )
    emu = runtime.connectors.emulator("salesforce")
    async with connect(CHECKER) as client:
        emu.core.reset_log()
        for args in ({"consent": "opted_out"}, {"group_by": "consent"}):
            text = await refused(client, "search_people", connector="salesforce", **args)
            assert "'HasOptedOutOfEmail', which you may not read" in text, text
        assert emu.core.requests == []
        stages = await ok(client, "search_people", connector="salesforce", group_by="object")
    assert stages["count"] and stages["groups"]
    rows = [r for r in audit_rows(settings) if r["tool"] == "search_people"]
    assert [(r["principal"], r["error_code"]) for r in rows] == [
        (CHECKER, "not_permitted"),
        (CHECKER, "not_permitted"),
        (CHECKER, None),
    ]


async def test_consent_conflicts_need_the_fields_the_status_rests_on(
    connect, runtime: Runtime, settings: Settings, manifest_path: Path
):
    """A conflict is a person in a send audience whose status says they may not be emailed:
    listing conflicts would reveal the opt-out field the principal is denied, so the scan is
    refused before any vendor call, naming the field; on a connector whose consent fields it
    may read, it runs."""
    _grant(
        manifest_path,
        '"*"',
        _deny("checker-no-optout", "salesforce", '"*"', '"HasOptedOutOfEmail"'),
    )
    text = manifest_path.read_text()
    manifest_path.write_text(
        text.replace(
            'tools = ["get_consent_state", "get_person", "search_people"]',
            'tools = ["get_consent_state", "get_person", "search_people", '
            '"find_consent_conflicts"]',
        )
    )
    emu = runtime.connectors.emulator("salesforce")
    async with connect(CHECKER) as client:
        emu.core.reset_log()
        said = await refused(client, "find_consent_conflicts", connector="salesforce")
        assert "'HasOptedOutOfEmail' (consent rests on it), which you may not read" in said
        assert emu.core.requests == []
        elsewhere = await ok(client, "find_consent_conflicts", connector="hubspot")
    assert "conflicts" in elsewhere
    rows = [r for r in audit_rows(settings) if r["tool"] == "find_consent_conflicts"]
    assert [(r["principal"], r["error_code"]) for r in rows] == [
        (CHECKER, "not_permitted"),
        (CHECKER, None),
    ]
