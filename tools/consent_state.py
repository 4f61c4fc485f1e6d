"""get_consent_state: one record's consent and the compliance floor's verdict on the person,
told only as far as the caller may read what they rest on.

The verdict joins records: a subscribed record is not sendable when another record with the
same address is opted out, or when the person is in an express-consent country and no evidence
is recorded. Saying which record blocks, and why, would hand the caller that record's consent
(or its country) even where the manifest lets it read neither. So:

- this record's consent parts are shown only where every field they come from is readable
  (``shaping.consent_out``); a withheld status withholds the verdict too (``sendable`` null);
- a block is explained (and the blocking record named) only when the caller may use this tool
  on that record's object and read every field the block rests on: the address on both
  records, and the other record's consent fields or the country and evidence fields;
- otherwise the answer says that the person is not sendable and that the rest is withheld,
  listed in ``withheld`` like the fields ``search_people`` and ``get_person`` leave out.

The verdict itself on a record whose consent the caller may read is always given: it is what
every proposal to send to the person would be told.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from mopsgate.crm.records import Person
from mopsgate.governance.consent_floor import (
    UNMATCHABLE,
    ExpressConsent,
    FloorBlock,
    express_consent,
    floor_findings,
)
from mopsgate.governance.risk import RiskClass
from mopsgate.tools.common import Ref, connector, person_ref, read_access
from mopsgate.tools.person_matching import object_allowed
from mopsgate.tools.shaping import ConsentOut, Withheld, consent_out
from mopsgate.tools.spec import ConnectorNeed, Target, ToolContext, ToolInput, ToolSpec

TOOL = "get_consent_state"
NOT_READABLE = "not in your readable fields"
HIDDEN_BLOCK = (
    "which record or field blocks this person, and why, is withheld: it rests on a record or "
    "fields you may not read"
)


class ConsentIn(ToolInput):
    ref: Ref

    def target(self) -> Target:
        return Target.of(self.ref)


class ConsentStateOut(BaseModel):
    ref: str
    consent: ConsentOut
    sendable: bool | None = Field(
        description="true only when consent is known and not withdrawn, on this record and on "
        "every other record with the same email address (the compliance floor's verdict); "
        "null when this record's consent is withheld from you"
    )
    explanation: str
    blocked_by_ref: str | None = Field(
        None, description="the other record (same email address) whose consent blocks this one"
    )
    withheld: list[Withheld] = Field(
        default_factory=list,
        description="what this answer leaves out because you may not read it, and why",
    )


def _rests_on(
    ctx: ToolContext, person: Person, block: FloorBlock, express: ExpressConsent
) -> dict[str, list[str]]:
    """object -> the fields the floor's reason reads there (on the blocking record, and on
    this one for the address both share)."""
    conn, _ = person_ref(ctx.manifest.catalogue, person.ref)
    holder = block.by or person
    if block.code == "express_consent_missing":
        fields = [
            f
            for f in (
                express.country_field.get(holder.object),
                express.evidence_field.get(holder.object),
            )
            if f
        ]
    elif block.by is not None:
        fields = block.by.consent.status_sources
    else:
        fields = []
    out = {holder.object: fields}
    if block.by is not None or (block.code, block.reason) == UNMATCHABLE:
        for record in {person.object, holder.object}:
            email = ctx.manifest.catalogue.field_for(conn, record, "email")
            out.setdefault(record, []).extend([email] if email else [])
    return out


def _may_see(ctx: ToolContext, person: Person, block: FloorBlock, express: ExpressConsent) -> bool:
    if block.by is not None and not object_allowed(ctx, TOOL, block.by):
        return False
    conn, _ = person_ref(ctx.manifest.catalogue, person.ref)
    return all(
        read_access(ctx, conn, obj, TOOL).can_read(name)
        for obj, names in _rests_on(ctx, person, block, express).items()
        for name in names
    )


async def get_consent_state(ctx: ToolContext, args: ConsentIn) -> ConsentStateOut:
    """The record's own consent, and the floor's verdict on the person: a subscribed record
    whose address another record holds opted out may not be emailed, and says which record
    when the caller may read it."""
    conn, _ = person_ref(ctx.manifest.catalogue, args.ref)
    client = connector(ctx, conn)
    person = await client.get_person(args.ref)
    state = person.consent
    access = read_access(ctx, conn, person.object, TOOL)
    shown = consent_out(state, access)
    withheld = [
        Withheld(field=name, reason=access.denied.get(name, NOT_READABLE))
        for part in state.sources.values()
        for name in part
        if not access.can_read(name)
    ]
    if shown.status == "withheld":
        ctx.notes.summary = f"{args.ref}: withheld ({state.status})"
        return ConsentStateOut(
            ref=args.ref,
            consent=shown,
            sendable=None,
            explanation="withheld: this record's consent rests on fields you may not read",
            withheld=withheld,
        )
    express = express_consent(ctx.manifest, conn)
    if state.sendable and (
        block := (await floor_findings(client, [person], express)).get(person.ref)
    ):
        ctx.notes.summary = f"{args.ref}: subscribed, blocked ({block.code})"
        if _may_see(ctx, person, block, express):
            return ConsentStateOut(
                ref=args.ref,
                consent=shown,
                sendable=False,
                explanation=block.block[1],
                blocked_by_ref=block.by.ref if block.by else None,
                withheld=withheld,
            )
        return ConsentStateOut(
            ref=args.ref,
            consent=shown,
            sendable=False,
            explanation="the compliance floor blocks this person; " + HIDDEN_BLOCK,
            withheld=[*withheld, Withheld(field="explanation", reason=HIDDEN_BLOCK)],
        )
    why = {
        "subscribed": "email opt-out is false and a legal basis is recorded",
        "opted_out": "the person opted out of email",
        "suppressed": "the address is suppressed: " + ", ".join(shown.suppression_reasons),
        "unknown": "no legal basis / consent evidence is recorded; treat as not sendable",
    }[state.status]
    ctx.notes.summary = f"{args.ref}: {state.status}"
    return ConsentStateOut(
        ref=args.ref, consent=shown, sendable=state.sendable, explanation=why, withheld=withheld
    )


CONSENT_STATE_TOOL = ToolSpec(
    TOOL,
    "Get consent state",
    "Consent verdict for one person: subscribed, opted_out, suppressed or unknown, "
    "with the vendor fields it was derived from and whether they may be emailed (which "
    "also needs every other record with the same email address to be subscribed). Parts "
    "resting on fields or records you may not read are withheld and listed in 'withheld'.",
    ConsentIn,
    ConsentStateOut,
    get_consent_state,
    RiskClass.READ,
    ConnectorNeed.ARGUMENT,
)
