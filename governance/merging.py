"""The plan of a merge: one survivor keeps living, the losers are deleted by the vendor.

A merge is governed like a delete (its risk class is ``delete``: two approvals by default,
never applied without them, denied unless a rule names the tool) because the losers are gone
afterwards and no API brings them back, so the plan says revert is impossible. The floor has a
say too: a merge must never drop an opt-out, so folding an opted-out or suppressed record into
a subscribed survivor is refused; the survivor should be the record that carries it.
"""

from __future__ import annotations

from pydantic import JsonValue

from mopsgate.crm.records import FieldInfo, Person
from mopsgate.governance.change_model import FieldChange, Plan, PlannedRecord
from mopsgate.governance.errors import FloorViolation, InvalidInput
from mopsgate.governance.plan_checks import check_update_fields
from mopsgate.governance.planning import PlanInput, consent_image
from mopsgate.governance.policy import FieldAccess

MAX_LOSERS = 3  # Marketo merges at most three losers into a winner in one call
REVERT_IMPOSSIBLE = (
    "a merge deletes the losing records in the vendor; no API restores them, so it cannot be "
    "reverted"
)
DROPS_CONSENT = frozenset({"opted_out", "suppressed"})


def merge_parts(inp: PlanInput) -> tuple[str, list[str], dict[str, str]]:
    """(survivor, losers, field -> the loser whose value the survivor takes)."""
    survivor = str(inp.target)
    losers = [r for r in inp.refs if r != survivor]
    raw = inp.params.get("fields")
    choices = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}
    return survivor, losers, choices


def plan_merge(
    inp: PlanInput,
    people: dict[str, Person],
    described: dict[str, FieldInfo],
    access: FieldAccess,
) -> Plan:
    survivor_ref, losers, choices = merge_parts(inp)
    if not 1 <= len(losers) <= MAX_LOSERS:
        raise InvalidInput(
            f"a merge takes 1 to {MAX_LOSERS} records besides the survivor, got {len(losers)}.",
            hint="Merge a larger group in several steps into the same survivor.",
        )
    gone = [r for r in [survivor_ref, *losers] if r not in people]
    if gone:
        raise InvalidInput(
            f"no such record: {', '.join(gone)}; nothing can be merged.",
            hint="Use references from find_duplicates or search_people.",
        )
    survivor = people[survivor_ref]
    objects = {people[r].object for r in losers} | {survivor.object}
    if len(objects) != 1:
        raise InvalidInput(
            f"records of different objects ({', '.join(sorted(objects))}) cannot be merged.",
            hint="Merge Leads with Leads and Contacts with Contacts.",
        )
    _refuse_dropped_consent(survivor, [people[r] for r in losers])
    strangers = sorted({src for src in choices.values() if src not in losers})
    if strangers:
        raise InvalidInput(
            f"field values can only be taken from the losing records, not {', '.join(strangers)}.",
            hint="Map each field to one of the records being merged away.",
        )
    values: dict[str, JsonValue] = {f: people[src].fields.get(f) for f, src in choices.items()}
    check_update_fields(values, values, described, access, f"{inp.connector} {survivor.object}")
    changes = [
        FieldChange(field=f, before=survivor.fields.get(f), after=v)
        for f, v in values.items()
        if survivor.fields.get(f) != v
    ]
    before: dict[str, JsonValue] = {f: survivor.fields.get(f) for f in values}
    records = [
        PlannedRecord(
            ref=survivor_ref,
            action="merge",
            before={**before, **consent_image(survivor)},
            changes=changes,
        ),
        *(
            PlannedRecord(ref=r, action="merged_away", before=dict(people[r].fields), changes=[])
            for r in losers
        ),
    ]
    return Plan(
        operation="merge_people",
        connector=inp.connector,
        target=survivor_ref,
        params={"fields": {f: str(v) for f, v in choices.items()}, "revert": REVERT_IMPOSSIBLE},
        records=records,
    )


def _refuse_dropped_consent(survivor: Person, losers: list[Person]) -> None:
    if survivor.consent.status in DROPS_CONSENT:
        return
    dropping = [p for p in losers if p.consent.status in DROPS_CONSENT]
    if dropping:
        who = ", ".join(f"{p.ref} ({p.consent.status})" for p in dropping)
        raise FloorViolation(
            f"merging {who} into {survivor.ref} ({survivor.consent.status}) could drop an "
            "opt-out or suppression: the survivor's consent is what remains.",
            hint=f"Make {dropping[0].ref} the survivor (find_duplicates suggests one that keeps "
            "the opt-out), or record the opt-out on the survivor first (propose_opt_out).",
            rule_id="compliance-floor",
        )
