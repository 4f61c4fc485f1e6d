"""The plan of archiving a list: the list goes out of use, its people stay.

Refused while an active email campaign names the list as its audience (archiving it would
break that campaign's sends); re-checked at apply with the list itself, so a list that was
renamed, refilled or put back into use since the plan is stale.
"""

from __future__ import annotations

from mopsgate.crm.connector import Connector
from mopsgate.governance import send_lists
from mopsgate.governance.change_model import FieldChange, Plan, PlannedRecord
from mopsgate.governance.errors import InvalidInput
from mopsgate.governance.planning import PlanInput

REVERT_BY_HAND = (
    "mopsgate does not restore lists: HubSpot keeps a deleted list restorable for 90 days in "
    "its UI, a Salesforce Campaign can be made active again, Marketo deletes a static list for "
    "good"
)


async def _active_users(client: Connector, list_ref: str) -> list[str]:
    campaigns, _ = await send_lists.email_campaigns(client)
    return [c.ref for c in campaigns if c.audience_list_ref == list_ref and c.ref != list_ref]


async def plan_archive(client: Connector, inp: PlanInput) -> Plan:
    target = str(inp.target)
    lst = await client.get_list(target)
    using = await _active_users(client, target)
    if using:
        raise InvalidInput(
            f"{lst.name!r} is the audience of active email campaign(s) {', '.join(using)}; "
            "archiving it would break their sends.",
            hint="Switch those campaigns off or give them another audience first; "
            "get_list_usage shows who uses the list.",
        )
    record = PlannedRecord(
        ref=target,
        action="archive",
        before={"name": lst.name, "size": lst.size},
        changes=[FieldChange(field="archived", before=False, after=True)],
    )
    return Plan(
        operation="archive_list",
        connector=inp.connector,
        target=target,
        params={"revert": REVERT_BY_HAND},
        records=[record],
    )


async def list_drift(client: Connector, plan: Plan) -> list[str]:
    """What moved since an archive was planned: the list's name or size, or a campaign that
    now sends to it."""
    target = str(plan.target)
    lst = await client.get_list(target)
    before = plan.records[0].before
    out = [
        f"{target} {name} was {before.get(name)!r} at plan time, is now {now!r}"
        for name, now in (("name", lst.name), ("size", lst.size))
        if before.get(name) != now
    ]
    out += [
        f"{target} is now the audience of active campaign {c}"
        for c in await _active_users(client, target)
    ]
    return out
