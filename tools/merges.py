"""propose_merge_people: duplicates merged by the vendor's own merge endpoint, under review.

A merge deletes the losing records, so it is proposed under the ``delete`` risk class: two
approvals by default, a rule that names the tool, and (on production) a rule that names the
connector. The plan says that it cannot be reverted.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from mopsgate.governance.errors import InvalidInput
from mopsgate.governance.merging import MAX_LOSERS
from mopsgate.governance.planning import PlanInput
from mopsgate.governance.risk import RiskClass
from mopsgate.tools.change_views import ProposalOut
from mopsgate.tools.common import Ref, person_ref, same_connector
from mopsgate.tools.spec import Target, ToolContext, ToolInput
from mopsgate.tools.writes import Reason, once_each, proposal_spec, propose


class MergeIn(ToolInput):
    survivor: Ref = Field(description="the record that stays (find_duplicates suggests one)")
    losers: Annotated[
        list[Ref], Field(min_length=1, max_length=MAX_LOSERS), AfterValidator(once_each)
    ] = Field(description=f"1 to {MAX_LOSERS} records merged into the survivor and deleted")
    fields: dict[str, Ref] = Field(
        default_factory=dict,
        max_length=50,
        description="field name -> the loser whose value the survivor takes (only fields you "
        "may change: describe_fields writable_by_you); other fields keep the survivor's value "
        "where it has one",
    )
    reason: Reason

    def target(self) -> Target:
        return Target.of(self.survivor, *self.losers)


async def propose_merge_people(ctx: ToolContext, args: MergeIn) -> ProposalOut:
    cat = ctx.manifest.catalogue
    for ref in (args.survivor, *args.losers):
        person_ref(cat, ref)
    conn = same_connector(args.survivor, *args.losers)
    if args.survivor in args.losers:
        raise InvalidInput("the survivor is also listed as a loser.", hint="Name each record once.")
    inp = PlanInput(
        operation="merge_people",
        connector=conn,
        refs=[args.survivor, *args.losers],
        target=args.survivor,
        params={"fields": dict(args.fields)},
    )
    return await propose(ctx, "propose_merge_people", args.reason, inp, RiskClass.DELETE)


MERGE_TOOLS = (
    proposal_spec(
        "propose_merge_people",
        "Propose merging duplicates",
        "Propose merging duplicate people of one connector into a survivor with the vendor's "
        "merge endpoint (Marketo, HubSpot; Salesforce merges only in its own UI): the losers' "
        "list memberships move to the survivor and the losers are deleted. Use find_duplicates "
        "first: take its suggested survivor, and check low-confidence groups (name + company "
        "alone), which are often different people. Governed like a delete: two approvals, and "
        "it cannot be reverted. Refused where it would fold an opted-out or suppressed record "
        "into a subscribed survivor.",
        MergeIn,
        propose_merge_people,
        RiskClass.DELETE,
    ),
)
