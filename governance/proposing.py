"""Propose: plan from live data, check manifest, caps, rate and floor, store, issue the token.

Every refusal here happens before anything is stored, so a refused proposal leaves no trace
but its audit row.

The change is stored before the call's audit row is written (by the pipeline, with the call's
outcome). Until the log holds that row the store refuses to approve the change; if the row
cannot be written, the pipeline tells the proposer (:meth:`Proposer.unaudited`), which withdraws
the change, with a row saying so: nothing on record asked for it. A withdrawal the log refuses
too is tried again before this process's next proposal, and by start-up recovery
(``governance/recovering.py``) should the process stop first.
"""

from __future__ import annotations

import logging
from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from mopsgate.crm.connector import Connector
from mopsgate.governance import across
from mopsgate.governance import planning as pl
from mopsgate.governance.change_model import (
    ApprovalsRequired,
    BlockedRecord,
    Change,
    Plan,
    new_change,
    utcnow,
)
from mopsgate.governance.change_rules import RecordBudget
from mopsgate.governance.confirm_token import issue
from mopsgate.governance.consent_floor import express_consent, floor_blocks, reading_consent
from mopsgate.governance.errors import (
    AuditUnavailable,
    FloorViolation,
    InvalidInput,
    NotPermitted,
)
from mopsgate.governance.list_archive import plan_archive
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.merging import plan_merge
from mopsgate.governance.policy import (
    ApprovalRequirement,
    FieldAccess,
    approval_requirement,
    field_access,
    rate_limit,
    record_cap,
)
from mopsgate.governance.ports import ChangeStore
from mopsgate.governance.progress import Progress, Steps
from mopsgate.governance.record_limits import split_hint
from mopsgate.governance.recovering import withdraw
from mopsgate.governance.risk import RiskClass

MAX_RECORDS = 10_000
# The changes this process stored lately, with the tool that proposed each: a failed audit row
# is reported right after the proposing call returns, so its change is among them; a later call
# on it (an apply, a get_change) is another tool.
RECENT = 1024
log = logging.getLogger("mopsgate.proposing")


@dataclass(frozen=True)
class Proposal:
    change: Change
    token: str
    frozen_note: str | None


@dataclass
class Proposer:
    store: ChangeStore
    secret: bytes
    _recent: deque[tuple[str, str]] = field(
        default_factory=lambda: deque(maxlen=RECENT), repr=False
    )
    _unwithdrawn: set[str] = field(default_factory=set, repr=False)

    async def unaudited(
        self, change_id: str, tool: str, cause: AuditUnavailable
    ) -> AuditUnavailable | None:
        """The audit row of a ``tool`` call that named ``change_id`` could not be written. If
        that call proposed the change here, withdraw it (nothing on record asked for it) and
        return what the caller is told; None for any other call."""
        if (change_id, tool) not in self._recent:  # not the call that proposed it
            return None
        why = cause.message.partition(" Cause: ")[2]

        def told(what: str, hint: str) -> AuditUnavailable:
            return AuditUnavailable(
                f"{tool} could not write its audit row, so its result is withheld and the "
                f"change it stored ({change_id}) {what}" + (f". Cause: {why}" if why else "."),
                hint=hint,
                details={**cause.details, "change_id": change_id},
            )

        try:
            withdrawn = await withdraw(self.store, change_id)
        except Exception as exc:  # the log (or the database) refuses that too: try again later
            log.error("could not withdraw the unaudited change %s yet: %s", change_id, exc)
            self._unwithdrawn.add(change_id)
            return told(
                "can never be approved or applied; it is withdrawn once the log takes rows again",
                "Propose again once the audit log can be written (free space, check permissions).",
            )
        if not withdrawn:  # its row was written after all (the commit's answer was lost)
            return None
        return told(
            "is withdrawn: it can never be approved or applied",
            "Nothing was written to any vendor. Propose again once the audit log can be "
            "written (free space, check permissions).",
        )

    async def _withdraw_left(self) -> None:
        """Withdraw the unaudited changes a refused log kept from being withdrawn (each is
        never approvable meanwhile); what still fails stays for the next try, or start-up."""
        for change_id in sorted(self._unwithdrawn):
            try:
                await withdraw(self.store, change_id)
            except Exception as exc:
                log.error("could not withdraw the unaudited change %s yet: %s", change_id, exc)
                return
            self._unwithdrawn.discard(change_id)

    async def propose(
        self,
        *,
        manifest: Manifest,
        digest: str,
        principal: str,
        tool: str,
        reason: str,
        client: Connector,
        inp: pl.PlanInput,
        risk: RiskClass,
        revert_of: str | None = None,
        finish_of: str | None = None,
        use_case: str | None = None,
        now: datetime | None = None,
        progress: Progress | None = None,
    ) -> Proposal:
        return await self.propose_across(
            manifest=manifest,
            digest=digest,
            principal=principal,
            tool=tool,
            reason=reason,
            clients={inp.connector: client},
            inputs=[inp],
            risk=risk,
            revert_of=revert_of,
            finish_of=finish_of,
            use_case=use_case,
            now=now,
            progress=progress,
        )

    async def propose_across(
        self,
        *,
        manifest: Manifest,
        digest: str,
        principal: str,
        tool: str,
        reason: str,
        clients: Mapping[str, Connector],
        inputs: Sequence[pl.PlanInput],
        risk: RiskClass,
        revert_of: str | None = None,
        finish_of: str | None = None,
        use_case: str | None = None,
        now: datetime | None = None,
        progress: Progress | None = None,
    ) -> Proposal:
        """One change over one or several connectors (``governance/across.py``), one input per
        connector: each part is planned, floor-checked and capped on its own connector with its
        own client, then the parts are stored, reviewed and tokened as one change, whose
        approvals are the strictest any part needs. One input is an ordinary change.
        ``progress`` hears of every batch of records read for the plan."""
        if self._unwithdrawn:
            await self._withdraw_left()
        if not inputs or len({i.connector for i in inputs}) != len(inputs):
            raise InvalidInput(
                "a change across connectors takes one part per connector.",
                hint="Name each connector once.",
            )
        plans: list[Plan] = []
        needs: list[tuple[str, ApprovalRequirement]] = []
        strongest = risk
        steps = Steps(progress, sum(len(_read_refs(inp)) for inp in inputs))
        for inp in inputs:
            _check_refs(inp.connector, _target_refs(inp))
            plan, part_risk = await self._plan(
                manifest, principal, clients[inp.connector], inp, risk, steps
            )
            n = len(plan.records) + len(plan.blocked)
            await self._check_class(
                manifest, principal, inp.connector, part_risk, n, now or utcnow()
            )
            needs.append(
                (
                    inp.connector,
                    approval_requirement(manifest, principal, inp.connector, part_risk, n),
                )
            )
            plans.append(plan)
            strongest = part_risk if part_risk is not risk else strongest
        total = sum(len(p.records) + len(p.blocked) for p in plans)
        if total > MAX_RECORDS:
            raise InvalidInput(
                f"{total} records is more than one change may hold ({MAX_RECORDS}).",
                hint="Split by list or segment.",
            )
        budget = await self._check_rate(manifest, principal, total, now or utcnow())
        plan = plans[0] if len(plans) == 1 else across.combine([i.connector for i in inputs], plans)
        _refuse_if_all_blocked(plan)
        change = new_change(
            requester=principal,
            tool=tool,
            risk_class=strongest,
            reason=reason,
            plan=plan,
            manifest_digest=digest,
            revert_of=revert_of,
            finish_of=finish_of,
            use_case=use_case,
            now=now or utcnow(),
            approvals_required=_strictest(needs),
        )
        stored = await self.store.insert(change, budget=budget, audited_after=True)
        self._recent.append((stored.id, tool))
        if revert_of:
            await self.store.link_revert(revert_of, stored.id)
        if finish_of:
            await self.store.link_finish(finish_of, stored.id)
        frozen = await self.store.frozen()
        note = f"applies are frozen: {frozen.reason}" if frozen else None
        return Proposal(stored, issue(self.secret, stored, now=now), note)

    async def _plan(
        self,
        manifest: Manifest,
        principal: str,
        client: Connector,
        inp: pl.PlanInput,
        risk: RiskClass,
        steps: Steps,
    ) -> tuple[Plan, RiskClass]:
        op = inp.operation
        pl.require_capability(client.capabilities, op, inp.connector)
        if op == "update_fields":
            people = await pl.read_people(client, _read_refs(inp), steps, known=inp.known)
            objects = {p.object for p in people.values()}
            described = {o: {f.name: f for f in await client.describe_fields(o)} for o in objects}
            access = {
                o: _granted(field_access(manifest, principal, inp.connector, o), inp.grants)
                for o in objects
            }
            return pl.plan_updates(inp, people, described, access)
        if op == "schedule_campaign":
            return await _plan_schedule(manifest, client, inp), risk
        if op == "archive_list":
            return await plan_archive(client, inp), risk
        if op == "merge_people":
            return await _plan_merge(manifest, principal, client, inp), risk
        if op in ("add_to_list", "trigger_campaign"):  # sends: the floor decides
            with reading_consent(client.name, f"{len(inp.refs)} people"):
                people = await pl.read_people(client, inp.refs, steps, known=inp.known)
        else:
            people = await pl.read_people(client, inp.refs, steps, known=inp.known)
        if op in ("add_to_list", "remove_from_list"):
            assert inp.target is not None
            members = await pl.list_member_refs(client, inp.target)
            sends, blocks = (
                await pl.send_list_floor(
                    client,
                    manifest,
                    inp.target,
                    people.values(),
                    inp.known.values() if inp.known_addresses else None,
                )
                if op == "add_to_list"
                else (None, {})
            )
            return pl.plan_membership(inp, people, members, sends, blocks), risk
        if op == "set_campaign_status":
            assert inp.target is not None
            campaign = await client.get_campaign(inp.target, audience=False)  # the ladder
            statuses = await pl.campaign_statuses(client, inp.target)
            plan = pl.plan_campaign_status(inp, people, campaign, statuses, client.capabilities)
            return plan, risk
        if op == "trigger_campaign":
            assert inp.target is not None
            campaign = await client.get_campaign(inp.target, audience=False)  # sends to `people`
            pl.require_campaign(campaign, op)
            return pl.plan_per_person(
                inp,
                people,
                await floor_blocks(
                    client, people.values(), express_consent(manifest, inp.connector)
                ),
            ), risk
        return pl.plan_per_person(inp, people), risk

    async def _check_class(
        self,
        manifest: Manifest,
        principal: str,
        connector: str,
        risk: RiskClass,
        n: int,
        now: datetime,
    ) -> None:
        cap = record_cap(manifest, principal, connector, risk)
        if cap == 0:
            raise NotPermitted(
                f"you may not propose {risk} changes on {connector}.",
                hint=f'Ask the manifest owner for a rule with modes.{risk} = "propose".',
                rule_id="default-deny",
            )
        if n > cap:
            raise NotPermitted(
                f"this change touches {n} records; the cap for {risk} changes on {connector} "
                f"is {cap}.",
                hint=split_hint(
                    cap,
                    n,
                    rate_limit(manifest, principal).records_per_hour,
                    await self.store.records_proposed_last_hour(principal, now),
                ),
                rule_id="record-cap",
            )

    async def _check_rate(
        self, manifest: Manifest, principal: str, n: int, now: datetime
    ) -> RecordBudget:
        """Refuse early (before the floor's verdict) when the hourly budget is already spent;
        the store checks it again in the transaction that stores the change, so two proposals
        racing cannot both slip under it."""
        budget = RecordBudget(
            rate_limit(manifest, principal).records_per_hour, now - timedelta(hours=1), n
        )
        refusal = budget.refusal(await self.store.records_proposed_last_hour(principal, now))
        if refusal is not None:
            raise refusal
        return budget


def _granted(access: FieldAccess, grants: frozenset[str]) -> FieldAccess:
    """``access`` with the fields the tool is granted made writable (never a denied one)."""
    if not grants:
        return access
    return replace(access, writable=access.writable | (grants - set(access.denied)))


def _strictest(needs: Sequence[tuple[str, ApprovalRequirement]]) -> ApprovalsRequired:
    """The approvals a change across connectors needs: as many as its most demanding part,
    from every role any part requires (a production part raises the count for the whole)."""
    if len(needs) == 1:
        req = needs[0][1]
        return ApprovalsRequired(
            count=req.count, roles=sorted(req.roles), rule_id=req.rule_id, reason=req.reason
        )
    count = max(req.count for _, req in needs)
    roles = sorted({role for _, req in needs for role in req.roles})
    rules = ",".join(dict.fromkeys(req.rule_id for _, req in needs if req.rule_id))
    reason = "; ".join(f"{conn}: {req.reason}" for conn, req in needs)
    return ApprovalsRequired(count=count, roles=roles, rule_id=rules, reason=reason)


def _refuse_if_all_blocked(plan: Plan) -> None:
    """A send or a send-list add with nobody left to act on is refused, not stored."""
    if (
        not plan.effective_records
        and plan.blocked
        and plan.operation in ("trigger_campaign", "add_to_list")
    ):
        raise FloorViolation(
            "every person in this request is blocked by the compliance "
            f"floor ({len(plan.blocked)} blocked: {blocked_refs(plan.blocked)}); nothing left "
            "to do.",
            hint="Check consent with get_consent_state.",
            rule_id="compliance-floor",
        )


def blocked_refs(blocked: Sequence[BlockedRecord], most: int = 8) -> str:
    """The blocked records with their reason codes, for refusals and audit summaries: record
    references are pseudonymous ids, so the evidence names who was excluded without PII."""
    shown = [f"{b.ref} ({b.reason_code})" for b in blocked[:most]]
    more = len(blocked) - most
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def _read_refs(inp: pl.PlanInput) -> list[str]:
    """The records a plan reads in batches: what its progress counts."""
    if inp.operation in ("schedule_campaign", "archive_list", "merge_people"):
        return []
    return list(inp.updates) if inp.operation == "update_fields" else list(inp.refs)


def _target_refs(inp: pl.PlanInput) -> list[str]:
    """What a change addresses: the people, or for a schedule the campaign itself."""
    if inp.operation == "update_fields":
        return list(inp.updates)
    if inp.operation in ("schedule_campaign", "archive_list"):
        return [inp.target] if inp.target else []
    return inp.refs


def repeated(refs: Sequence[str]) -> str:
    """The references listed more than once, with how often ('' when none is): a request
    that names a record twice is ambiguous (which of two field sets? add twice?) and is
    refused rather than silently merged."""
    counts = Counter(refs)
    dupes = [f"{ref} ({n} times)" for ref, n in counts.items() if n > 1]
    more = f" and {len(dupes) - 10} more" if len(dupes) > 10 else ""
    return ", ".join(dupes[:10]) + more


def _check_refs(connector: str, refs: list[str]) -> None:
    if not refs:
        raise InvalidInput("no records given.", hint="Pass at least one record reference.")
    if len(refs) > MAX_RECORDS:
        raise InvalidInput(
            f"{len(refs)} records is more than one change may hold ({MAX_RECORDS}).",
            hint="Split by list or segment.",
        )
    if dupes := repeated(refs):
        raise InvalidInput(
            f"the same record is listed more than once: {dupes}.",
            hint="List each record once; nothing was changed.",
        )
    foreign = [r for r in refs if not r.startswith(connector + ":")]
    if foreign:
        raise InvalidInput(
            f"{foreign[0]!r} is not on {connector}.", hint="One change addresses one connector."
        )


async def _plan_schedule(manifest: Manifest, client: Connector, inp: pl.PlanInput) -> Plan:
    """A schedule sends to the whole audience, so one blocked member blocks the schedule."""
    from mopsgate.governance.change_model import FieldChange, PlannedRecord

    assert inp.target is not None
    campaign = await client.get_campaign(inp.target)
    pl.require_campaign(campaign, "schedule_campaign")
    with reading_consent(client.name, f"the audience of {campaign.name!r}"):
        audience = await pl.schedule_audience(client, campaign)
    if blocks := await floor_blocks(
        client, audience.values(), express_consent(manifest, client.name)
    ):
        blocked = [
            BlockedRecord(ref=r, reason_code=c, reason=w) for r, (c, w) in sorted(blocks.items())
        ]
        who = "1 person" if len(blocked) == 1 else f"{len(blocked)} people"
        raise FloorViolation(
            f"the audience of {campaign.name!r} holds {who} who may not be emailed (opted out, "
            "suppressed or of unknown consent, by their own record or by another record with "
            f"the same email address): {blocked_refs(blocked)}; a schedule would email them.",
            hint="Remove them from the audience list first (propose_remove_from_list; "
            "get_consent_state says why each is blocked), then propose the schedule again.",
            rule_id="compliance-floor",
        )
    record = PlannedRecord(
        ref=inp.target,
        action="schedule",
        before={"audience_size": len(audience)},
        changes=[FieldChange(field="run_at", before=None, after=inp.params.get("run_at"))],
    )
    return Plan(
        operation="schedule_campaign",
        connector=inp.connector,
        target=inp.target,
        params=dict(inp.params),
        records=[record],
    )


async def _plan_merge(
    manifest: Manifest, principal: str, client: Connector, inp: pl.PlanInput
) -> Plan:
    """Read every record of the merge (and the survivor's fields, for the values it takes)."""
    people = await pl.read_people(client, inp.refs, known=inp.known)
    survivor = people.get(str(inp.target))
    obj = survivor.object if survivor else str(inp.target).split(":", 2)[1]
    described = {f.name: f for f in await client.describe_fields(obj)}
    access = field_access(manifest, principal, inp.connector, obj)
    return plan_merge(inp, people, described, access)
