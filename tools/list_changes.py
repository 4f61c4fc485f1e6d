"""propose_archive_list: the last step of a legacy-list clean-up, under review."""

from __future__ import annotations

from mopsgate.governance.planning import PlanInput
from mopsgate.governance.risk import RiskClass
from mopsgate.tools.change_views import ProposalOut
from mopsgate.tools.common import Ref, list_ref
from mopsgate.tools.spec import Target, ToolContext, ToolInput
from mopsgate.tools.writes import Reason, proposal_spec, propose


class ArchiveListIn(ToolInput):
    list_ref: Ref
    reason: Reason

    def target(self) -> Target:
        return Target.of(self.list_ref)


async def propose_archive_list(ctx: ToolContext, args: ArchiveListIn) -> ProposalOut:
    conn = list_ref(ctx.manifest.catalogue, args.list_ref)
    inp = PlanInput(operation="archive_list", connector=conn, target=args.list_ref)
    return await propose(ctx, "propose_archive_list", args.reason, inp, RiskClass.AUDIENCE)


LIST_CHANGE_TOOLS = (
    proposal_spec(
        "propose_archive_list",
        "Propose archiving a list",
        "Propose taking a list out of use (Marketo: delete the static list; HubSpot: delete "
        "it, restorable in HubSpot for 90 days; Salesforce: deactivate the Campaign). The "
        "people in it stay. Call get_list_usage first: a list an active email campaign sends "
        "to is refused. mopsgate cannot revert it; the plan says how to by hand.",
        ArchiveListIn,
        propose_archive_list,
        RiskClass.AUDIENCE,
    ),
)
