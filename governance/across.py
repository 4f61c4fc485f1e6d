"""A change that spans connectors: one plan, one diff, one approval, one token — applied per
connector.

Opting a person out everywhere, or adding them to the suppression list of every system, is
one decision for a reviewer, so it is one change. Its plan names every connector it touches
(``"hubspot+marketo"``) and holds every record (a reference names its connector); for a list
change ``params["targets"]`` names the list on each connector. Everything that reads or writes
a vendor works on the change's *parts*, one single-connector change per connector, with that
connector's client: the plan's floor and caps are checked per part, apply re-reads every part
(any drift anywhere refuses the whole change as stale before a single write) and then writes
part by part, each record's outcome recorded as usual, so the account says per connector what
was written. A single-connector change is its own only part, and nothing about it changes.
"""

from __future__ import annotations

from mopsgate.crm.refs import parse_ref
from mopsgate.governance.change_model import Change, Plan

SEP = "+"


def joined(connectors: list[str]) -> str:
    return SEP.join(connectors)


def connectors_of(plan: Plan) -> list[str]:
    return plan.connector.split(SEP)


def is_across(plan: Plan) -> bool:
    return SEP in plan.connector


def part_plan(plan: Plan, connector: str) -> Plan:
    """The plan's records and blocked records on one connector, with that connector's list."""
    if not is_across(plan):
        return plan
    targets = plan.params.get("targets") or {}

    def mine(ref: str) -> bool:
        return parse_ref(ref).connector == connector

    return Plan(
        operation=plan.operation,
        connector=connector,
        target=targets.get(connector, plan.target),
        params={k: v for k, v in plan.params.items() if k != "targets"},
        records=[r for r in plan.records if mine(r.ref)],
        blocked=[b for b in plan.blocked if mine(b.ref)],
    )


def parts(change: Change) -> list[Change]:
    """One single-connector change per connector the change touches (itself when it touches
    one); each keeps the change's id, status and outcome so apply can record against it."""
    if not is_across(change.plan):
        return [change]
    return [
        change.model_copy(update={"plan": part_plan(change.plan, c), "connector": c})
        for c in connectors_of(change.plan)
    ]


def combine(connectors: list[str], plans: list[Plan]) -> Plan:
    """One plan of the per-connector plans (same operation), in the order given."""
    targets = {p.connector: p.target for p in plans if p.target is not None}
    params = dict(plans[0].params)
    if targets:
        params["targets"] = targets
    return Plan(
        operation=plans[0].operation,
        connector=joined(connectors),
        target=None,
        params=params,
        records=[r for p in plans for r in p.records],
        blocked=[b for p in plans for b in p.blocked],
    )
