"""Proposals across connectors: the same person opted out everywhere, or added to a list in
every system — one diff, one review, one token, applied per connector
(``governance/across.py``).

Who "the same person" is on each connector is decided on the server from unmasked values, and
only by a strong match (the normalised email, every record of the address, duplicates
included, as the floor judges them); a name + company match never reaches a write. Every
connector the change touches must allow the tool; one that does not refuses the whole
proposal, naming it, rather than leaving a silent gap in an "everywhere".
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from mopsgate.crm.records import Person
from mopsgate.governance.consent_floor import normalise_email
from mopsgate.governance.errors import InvalidInput, NotPermitted
from mopsgate.governance.planning import PlanInput
from mopsgate.governance.risk import RiskClass
from mopsgate.tools.change_views import ProposalOut
from mopsgate.tools.common import ConnectorName, Ref, connector, list_ref, person_ref
from mopsgate.tools.person_matching import allowed_connectors, by_email, object_allowed
from mopsgate.tools.spec import Target, ToolContext, ToolInput
from mopsgate.tools.writes import Reason, proposal_spec, propose

MAX_PEOPLE = 200
Email = Annotated[str, Field(min_length=3, max_length=254)]


class PeopleEverywhere(ToolInput):
    refs: list[Ref] = Field(
        default_factory=list,
        max_length=MAX_PEOPLE,
        description="people by record reference on any connector; their email finds them "
        "everywhere else",
    )
    emails: list[Email] = Field(
        default_factory=list, max_length=MAX_PEOPLE, description="people by email address"
    )
    reason: Reason

    @model_validator(mode="after")
    def _some(self) -> PeopleEverywhere:
        if not self.refs and not self.emails:
            raise ValueError("give refs or emails (or both)")
        if len(self.refs) + len(self.emails) > MAX_PEOPLE:
            raise ValueError(f"at most {MAX_PEOPLE} people per change; split the request")
        return self

    def target(self) -> Target:
        return Target.NONE  # every connector it touches is decided inside the tool


class OptOutEverywhereIn(PeopleEverywhere):
    connectors: list[ConnectorName] | None = Field(
        None, description="only these connectors; default every connector"
    )


class AddEverywhereIn(PeopleEverywhere):
    list_refs: list[Ref] = Field(
        min_length=2,
        max_length=3,
        description="the list to add to on each connector, one per connector (e.g. each "
        "system's suppression list)",
    )


def _require_everywhere(ctx: ToolContext, tool: str, names: list[str]) -> None:
    _, refused = allowed_connectors(ctx, tool, names)
    if refused:
        first = next(iter(refused))
        raise NotPermitted(
            f"you may not use {tool} on {', '.join(refused)}: {refused[first]}",
            hint="Name only the connectors you may change (connectors / list_refs), or ask "
            "the manifest owner for a grant; nothing was proposed.",
            rule_id="default-deny",
        )


def _admit(ctx: ToolContext, tool: str, person: Person) -> None:
    """Every record of the change, named or found by email, is held to the caller's object
    rule for this tool: a reference must not be a way round it."""
    if not object_allowed(ctx, tool, person):
        raise NotPermitted(
            f"{person.ref} is a {person.object}, which you may not change with {tool}.",
            hint="Ask the manifest owner for a grant; nothing was proposed.",
        )


async def records_everywhere(
    ctx: ToolContext, tool: str, args: PeopleEverywhere, names: list[str]
) -> dict[str, dict[str, Person]]:
    """Connector -> the records of the people asked for, by reference: each reference
    itself, and every record of their normalised email address (strong matches only), as
    read here (the plan takes them rather than reading them again). Refuses, before reading
    anything, when a connector does not allow ``tool``; and when nobody is found."""
    _require_everywhere(ctx, tool, names)
    cat = ctx.manifest.catalogue
    keys: set[str] = set()
    out: dict[str, dict[str, Person]] = {n: {} for n in names}
    named: dict[str, list[str]] = {}
    for ref in args.refs:
        conn, _ = person_ref(cat, ref)
        if conn not in out:
            raise InvalidInput(
                f"{ref} is on {conn}, which this change does not cover.",
                hint=f"Name {conn} among the connectors (or its list), or pass an email.",
            )
        named.setdefault(conn, []).append(ref)
    for conn, refs in named.items():  # one batched read per connector, not one per person
        client = connector(ctx, conn)
        read = await client.get_people(refs)
        for ref in refs:
            record = read.get(ref)
            if record is None:
                raise InvalidInput(
                    f"there is no record {ref}.", hint="Use a reference a read returned."
                )
            _admit(ctx, tool, record)
            out[conn][ref] = record
            if key := normalise_email(str(client.role_value(record, "email") or "")):
                keys.add(key)
    bad = [e for e in args.emails if normalise_email(e) is None]
    if bad:
        raise InvalidInput(
            f"{len(bad)} email address(es) cannot be normalised, so nothing can match them.",
            hint="Pass plain addresses such as jane.doe@example.com.",
        )
    keys |= {k for e in args.emails if (k := normalise_email(e))}
    for name in names:
        found = await by_email(connector(ctx, name), sorted(keys))
        for people in found.values():
            for person in people:
                _admit(ctx, tool, person)
                out[name][person.ref] = person
    records = {n: dict(sorted(found.items())) for n, found in out.items() if found}
    if not records:
        raise InvalidInput(
            f"none of these people has a record on {', '.join(names)}.",
            hint="Check the addresses with resolve_person; nothing was proposed.",
        )
    return records


async def propose_opt_out_everywhere(ctx: ToolContext, args: OptOutEverywhereIn) -> ProposalOut:
    tool = "propose_opt_out_everywhere"
    names = list(args.connectors or ctx.manifest.catalogue.person_objects)
    found = await records_everywhere(ctx, tool, args, names)
    inputs = [
        PlanInput(operation="opt_out", connector=n, refs=list(people), known=people)
        for n, people in found.items()
    ]
    return await propose(ctx, tool, args.reason, inputs, RiskClass.CONSENT)


async def propose_add_to_list_everywhere(ctx: ToolContext, args: AddEverywhereIn) -> ProposalOut:
    tool = "propose_add_to_list_everywhere"
    lists = {list_ref(ctx.manifest.catalogue, ref): ref for ref in args.list_refs}
    if len(lists) != len(args.list_refs):
        raise InvalidInput("name one list per connector.", hint="Pass each connector's list once.")
    names = list(lists)
    found = await records_everywhere(ctx, tool, args, names)
    inputs = [
        PlanInput(
            operation="add_to_list",
            connector=n,
            refs=list(people),
            target=lists[n],
            known=people,
            known_addresses=True,
        )
        for n, people in found.items()
    ]
    return await propose(ctx, tool, args.reason, inputs, RiskClass.AUDIENCE)


ACROSS_TOOLS = (
    proposal_spec(
        "propose_opt_out_everywhere",
        "Propose an opt-out on every system",
        "Use when someone must stop getting email everywhere (a GDPR or unsubscribe "
        "request, or consent drift from find_cross_system_drift): one change that records "
        "the email opt-out on every record of their address on every connector (or those "
        "named), found on the server by normalised email — never by name. One diff, one "
        "review, one token; applied per connector, with each connector's account in the "
        "outcome. Refused if any connector asked for does not allow it. Opting in is not "
        "offered. For one connector only, propose_opt_out.",
        OptOutEverywhereIn,
        propose_opt_out_everywhere,
        RiskClass.CONSENT,
    ),
    proposal_spec(
        "propose_add_to_list_everywhere",
        "Propose adding to a list on every system",
        "Use to put the same people on a list in each system at once (typically each "
        "system's suppression list): one list per connector, the people found on each by "
        "normalised email (every record of the address). One diff, one review, one token; "
        "the compliance floor is checked per connector (nobody who may not be emailed joins "
        "a list that feeds sends). For one list, propose_add_to_list.",
        AddEverywhereIn,
        propose_add_to_list_everywhere,
        RiskClass.AUDIENCE,
    ),
)
