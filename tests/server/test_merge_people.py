"""propose_merge_people (issue #17, item 5): the vendors' merge endpoints, governed like a
delete — two signed approvals, never applied without them, a plan that says revert is
impossible, the floor keeping every opt-out, and the shipped grant reaching sandboxes only."""

from __future__ import annotations

from pathlib import Path

from mopsgate.governance.manifest_load import load_manifest_text
from mopsgate.governance.policy import decide
from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.sandbox.seed import seed_data
from mopsgate.server.app import Runtime
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.settings import Settings
from tests.conftest import ROOT, audit_rows
from tests.server.e2e_support import approve
from tests.server.test_changes_kit import REASON, apply, ok, refused

SEED = seed_data()
KEEP, DUP = 12, 36  # seed person 36 duplicates 12 (same name and company, '.old' address)
OPTED_OUT, SUBSCRIBED_TWIN = 149, 221  # 221 duplicates 149, who opted out
VENDORS = {
    "marketo": (mk.lead_ref, mk.lead_id, "title"),
    "hubspot": (hs.person_ref, hs.person_id, "jobtitle"),
}


def gone(runtime: Runtime, vendor: str, native: object) -> bool:
    emu = runtime.connectors.emulator(vendor)
    if vendor == "marketo":
        return not emu.has_person(native)
    return bool(emu.is_archived(native))


async def test_merge_through_two_signed_approvals(connect, runtime: Runtime, settings: Settings):
    """Each vendor in turn, on one server (each has its own emulator and request log)."""
    async with connect("assistant") as client:
        for vendor in sorted(VENDORS):
            seen = len(audit_rows(settings))
            ref, native, title = VENDORS[vendor]
            emu = runtime.connectors.emulator(vendor)
            assert SEED.people[DUP].duplicate_of == KEEP
            plan = await ok(
                client,
                "propose_merge_people",
                survivor=ref(KEEP),
                losers=[ref(DUP)],
                fields={title: ref(DUP)},
                reason=REASON,
            )
            assert plan["risk_class"] == "delete" and plan["approvals"]["required"] == 2
            assert plan["revert"].startswith("not possible: a merge deletes the losing records")
            assert [(r["ref"], r["action"]) for r in plan["records"]] == [
                (ref(KEEP), "merge"),
                (ref(DUP), "merged_away"),
            ]
            assert plan["records"][0]["changes"] == [
                {"field": title, "before": SEED.people[KEEP].title, "after": SEED.people[DUP].title}
            ]
            assert not gone(runtime, vendor, native(DUP))  # proposing deleted nothing

            approve(settings, plan["change_id"], "mops-lead")
            early = await apply(client, plan)
            assert early.is_error and "1 more needed of 2" in early.content[0].text
            assert not gone(runtime, vendor, native(DUP))

            approve(settings, plan["change_id"], "compliance")
            applied = await apply(client, plan)
            assert not applied.is_error, applied.content[0].text
            assert applied.structured_content["status"] == "applied"
            revert = await refused(
                client, "propose_revert", change_id=plan["change_id"], reason=REASON
            )
            assert gone(runtime, vendor, native(DUP))
            assert emu.person_fields(native(KEEP))[title] == SEED.people[DUP].title
            assert "cannot be reverted" in revert
            rows = [r for r in audit_rows(settings)[seen:] if r["change_id"] == plan["change_id"]]
            assert [r["tool"] for r in rows if r["kind"] == "review"] == ["review approve"] * 2


async def test_salesforce_says_it_cannot_merge(connect, runtime: Runtime):
    async with connect("assistant") as client:
        text = await refused(
            client,
            "propose_merge_people",
            survivor=sf.person_ref(KEEP),
            losers=[sf.person_ref(DUP)],
            reason=REASON,
        )
    assert text.startswith("[not_supported] salesforce has no merge endpoint"), text
    assert "UI" in text


async def test_a_merge_never_drops_an_opt_out(connect, runtime: Runtime):
    assert SEED.people[OPTED_OUT].consent_status == "opted_out"
    async with connect("assistant") as client:
        text = await refused(
            client,
            "propose_merge_people",
            survivor=hs.person_ref(SUBSCRIBED_TWIN),
            losers=[hs.person_ref(OPTED_OUT)],
            reason=REASON,
        )
        kept = await ok(
            client,
            "propose_merge_people",
            survivor=hs.person_ref(OPTED_OUT),
            losers=[hs.person_ref(SUBSCRIBED_TWIN)],
            reason=REASON,
        )
    assert text.startswith("[compliance_floor] merging"), text
    assert f"Make {hs.person_ref(OPTED_OUT)} the survivor" in text
    assert kept["status"] == "proposed"


def test_the_shipped_grant_reaches_sandboxes_only(tmp_path: Path):
    cat = build_catalogue()
    text = (ROOT / "permissions.toml").read_text()
    shipped = load_manifest_text(text, "p.toml", cat)
    # production needs one more approval per class, so one more reviewer to give it
    third = (
        '\n[reviewers.dpo]\nroles = ["compliance"]\nrisk_classes = ["consent", "send", '
        '"delete", "update_fields", "audience", "lifecycle"]\n'
    )
    switched = text.replace(
        '[connectors.hubspot]\nenvironment = "sandbox"',
        '[connectors.hubspot]\nenvironment = "production"',
    )
    production = load_manifest_text(switched + third, "p.toml", cat)
    assert decide(shipped, "assistant", "propose_merge_people", "hubspot", "contact").allowed
    refused_there = decide(production, "assistant", "propose_merge_people", "hubspot", "contact")
    assert not refused_there.allowed
    assert "naming 'hubspot' explicitly" in refused_there.reason
    assert decide(production, "assistant", "propose_merge_people", "marketo", "lead").allowed
    assert not decide(shipped, "analyst", "propose_merge_people", "hubspot", "contact").allowed
