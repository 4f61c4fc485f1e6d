"""Apply: exactly the approved plan, once, or nothing.

Order is the point: frozen? → token genuine and bound to this change, principal and manifest?
→ approved? → atomic claim (spends the token) → re-read every target and refuse as stale if
anything the plan saw has moved (consent included) → write through batch endpoints, recording
each record's outcome durably before the next batch, so a crash or upstream failure leaves an
exact account and nothing is ever written twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from dataclasses import field as default
from datetime import UTC, datetime

from pydantic import JsonValue

from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import VendorError
from mopsgate.crm.records import PersonUpdate, RecordResult
from mopsgate.governance import across
from mopsgate.governance import planning as pl
from mopsgate.governance.audit_events import apply_intent_event
from mopsgate.governance.cadence import APPLY_TOOL, cadence_refusal
from mopsgate.governance.cadence import RULE_ID as REVIEW_OVERDUE
from mopsgate.governance.caller import Caller
from mopsgate.governance.change_model import Change, ChangeStatus, PlannedRecord, utcnow
from mopsgate.governance.confirm_token import Keyring, verify
from mopsgate.governance.consent_floor import (
    Block,
    express_consent,
    floor_blocks,
    reading_consent,
)
from mopsgate.governance.errors import (
    ChangeRefused,
    FloorViolation,
    Frozen,
    NotPermitted,
    StaleChange,
    UpstreamFailure,
)
from mopsgate.governance.list_archive import list_drift
from mopsgate.governance.manifest_load import digest_matches
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.owner_targets import inactive_owners
from mopsgate.governance.ports import AuditSink, ChangeStore
from mopsgate.governance.progress import Progress, Steps, advance
from mopsgate.governance.record_locks import RecordLocks
from mopsgate.governance.vendor_state import UNVERIFIABLE, written_now

PSEUDO = (pl.MEMBER, pl.STATUS)


def _refuse_if_review_overdue(manifest: Manifest, change: Change, now: datetime | None) -> None:
    """A use case whose review is overdue with on_overdue = propose_only (or deny) applies
    nothing until it is reviewed; the change stays approved and can be applied after."""
    today = (now or utcnow()).astimezone(UTC).date()
    why = cadence_refusal(manifest, change.use_case, APPLY_TOOL, today)
    if why is not None:
        raise NotPermitted(
            f"{change.id} is not applied: {why}",
            hint="The change stays approved; apply it again once the review is done.",
            rule_id=REVIEW_OVERDUE,
            details={"use_case": change.use_case, "change_id": change.id},
        )


@dataclass
class Applier:
    store: ChangeStore
    secret: bytes | Keyring
    audit: AuditSink
    records: RecordLocks = default(default_factory=RecordLocks)

    async def apply(
        self,
        *,
        change_id: str,
        token: str,
        caller: Caller,
        manifest: Manifest,
        digest: str,
        client: Connector | None = None,
        clients: Callable[[str], Connector] | None = None,
        now: datetime | None = None,
        progress: Progress | None = None,
    ) -> Change:
        """Every attempt leaves an intent row before anything else happens, so no upstream
        write can ever happen without one (if the row cannot be written, nothing is tried).
        ``client`` serves a change on one connector; ``clients`` gives each connector's client
        (a change across connectors needs one per part). ``progress`` hears of every batch
        re-read and every batch written, counted toward one total."""
        change = await self.store.require(change_id)
        await self.audit.append(apply_intent_event(caller, change, digest, "apply requested"))
        principal = caller.principal or ""
        await self.store.ensure_not_frozen()
        _refuse_if_review_overdue(manifest, change, now)
        if change.manifest_digest != digest and digest_matches(change.manifest_digest, manifest):
            digest = change.manifest_digest  # proposed before the digest named the file's text
        nonce = await self._verify(change, token, principal, digest, now)
        if change.status is ChangeStatus.PROPOSED:
            raise ChangeRefused(
                f"{change.id} is still waiting for approval ({change.approvals_missing} more "
                f"needed of {change.approvals_required.count}).",
                hint="Human reviewers decide in the review console; check it with get_change "
                "and try again once it is approved.",
            )
        claimed = await self.store.claim_for_apply(change.id, nonce, now=now)
        try:
            client_for = _client_for(client, clients)
            steps = Steps(progress, _work(claimed))
            # Re-read to write, one apply at a time per record.
            async with self.records.holding(_lock_keys(claimed)):
                await self._refuse_if_drifted(client_for, claimed, manifest, steps)
                return await self._write(client_for, claimed, steps)
        finally:  # cancelled mid-write too: the change waits for recovery, unheld
            await self.store.end_apply(claimed.id)

    async def _refuse_if_drifted(
        self,
        client_for: Callable[[str], Connector],
        claimed: Change,
        manifest: Manifest,
        steps: Steps | None = None,
    ) -> None:
        """Re-read every target (consent included), on every connector the change touches;
        anything moved anywhere ends the change as stale before a single write. A failed
        re-read ends it as failed, also before any write."""
        try:
            drift: list[str] = []
            for part in across.parts(claimed):
                found = await find_drift(client_for(part.connector), part, manifest, steps)
                prefix = f"{part.connector}: " if part is not claimed else ""
                drift += [prefix + line for line in found]
        except Exception as exc:
            known = (VendorError, UpstreamFailure)
            why = exc.message if isinstance(exc, known) else type(exc).__name__
            await self.store.finish_apply(
                claimed.id, "failed", f"could not re-read targets: {why}; nothing was written"
            )
            if not isinstance(exc, known):
                raise
            raise UpstreamFailure(
                f"could not re-read the targets: {why}",
                hint="Nothing was written: without a fresh read of every target and its consent "
                "nothing is applied (fail closed). Propose again later.",
            ) from exc
        if drift:
            detail = "; ".join(drift[:10]) + (
                f" (+{len(drift) - 10} more)" if len(drift) > 10 else ""
            )
            await self.store.finish_apply(claimed.id, "stale", detail)
            raise StaleChange(
                f"{claimed.id} is stale, nothing was written: {detail}.",
                hint="The data changed since the plan was made; propose again.",
            )

    async def _verify(
        self, change: Change, token: str, principal: str, digest: str, now: datetime | None
    ) -> str:
        """The token's nonce; a genuine token that arrives too late or under another manifest
        also closes the change (expired / stale), so it cannot be approved or applied later."""
        try:
            return verify(
                self.secret,
                token,
                change=change,
                principal=principal,
                manifest_digest=digest,
                now=now,
            )
        except ChangeRefused as exc:
            if change.status in (ChangeStatus.PROPOSED, ChangeStatus.APPROVED):
                if isinstance(exc, StaleChange):
                    await self.store.mark_stale(change.id, exc.message)
                elif exc.details.get("reason_code") == "expired":
                    await self.store.mark_expired(change.id)
            raise

    async def _write(
        self, client_for: Callable[[str], Connector], change: Change, steps: Steps | None = None
    ) -> Change:
        """Part by part (one part unless the change spans connectors), batch by batch."""
        pieces = [(p, p.plan.effective_records) for p in across.parts(change)]
        records = [r for _, recs in pieces for r in recs]
        written = 0
        sent = Sent(steps, len(records))
        for n, (part, recs) in enumerate(pieces):
            later = [r for _, rest in pieces[n + 1 :] for r in rest]
            done = await self._write_part(
                client_for(part.connector), change, part, recs, later, written, sent
            )
            if isinstance(done, Change):  # the last answer was lost, the write was not
                return done
            written += done
        ok = written == len(records)
        outcome = None if ok else _account(written, len(records))
        if len(pieces) > 1:
            outcome = (f"{outcome}; " if outcome else "") + account(
                await self.store.require(change.id)
            )
        return await self.store.finish_apply(change.id, "applied" if ok else "failed", outcome)

    async def _write_part(
        self,
        client: Connector,
        change: Change,
        part: Change,
        records: Sequence[PlannedRecord],
        later: Sequence[PlannedRecord],
        written_before: int,
        sent: Sent | None = None,
    ) -> int | Change:
        """Write one connector's records; returns how many were written (or the applied
        change, when a failed call's re-read shows every record of the plan written). A batch
        call that raises fails the whole change: its batch re-read, the rest not attempted."""
        size = max(1, client.capabilities.batch_for(part.plan.operation))
        written = 0
        for start in range(0, len(records), size):
            batch = records[start : start + size]
            rest = [*records[start + size :], *later]
            so_far = written_before + written
            if so_far or start:  # the claim checked the first batch in its own transaction
                await self._stop_if_frozen(change, [*batch, *rest], so_far)
            try:
                results = await send_batch(client, part, batch)
            except VendorError as exc:
                settled = await self._fail_part_way(client, change, part, batch, rest, exc, so_far)
                if isinstance(settled, Change):
                    return settled
                raise settled from exc
            except Exception as exc:  # a bug or a transport error: same account, then re-raise
                await self._fail_part_way(client, change, part, batch, rest, exc, so_far)
                raise
            by_ref = {r.ref: r for r in results}
            outcomes = [
                by_ref.get(rec.ref)
                or RecordResult(
                    ref=rec.ref, ok=False, code="no_result", message="vendor returned no result"
                )
                for rec in batch
            ]
            await self.store.record_results(
                change.id,
                [
                    (r, after_image(rec) if r.ok else {})
                    for r, rec in zip(outcomes, batch, strict=True)
                ],
            )
            written += sum(r.ok for r in outcomes)
            if sent is not None:
                await sent.batch(len(batch), written_before + written)
        return written

    async def _stop_if_frozen(
        self, change: Change, unsent: Sequence[PlannedRecord], written: int
    ) -> None:
        """A freeze stops an apply already under way before its next batch, not only the
        applies that start after it (the kill switch of an incident: "stop writing now").
        What was written stays recorded; the rest is *not attempted*, and the change fails,
        so it is finished (or not) by a new, reviewed proposal once applies resume."""
        try:
            await self.store.ensure_not_frozen()
        except Frozen as exc:
            total = len(change.plan.effective_records)
            await self.store.record_results(
                change.id,
                [
                    (RecordResult(ref=r.ref, ok=False, code="not_attempted", message="frozen"), {})
                    for r in unsent
                ],
            )
            await self.store.finish_apply(
                change.id,
                "failed",
                f"stopped by a freeze: {written} of {total} records written, "
                f"{len(unsent)} not attempted",
            )
            raise Frozen(
                f"{change.id} was stopped by a freeze part-way: {written} of {total} records "
                f"written, {len(unsent)} not attempted; {exc.message}",
                hint="get_change shows which records were written. Once applies resume, "
                "propose_finish proposes the rest (reviewed again); the change itself is never "
                "applied again.",
                details={**exc.details, "written": written, "not_attempted": len(unsent)},
            ) from exc

    async def _fail_part_way(
        self,
        client: Connector,
        change: Change,
        part: Change,
        batch: Sequence[PlannedRecord],
        rest: Sequence[PlannedRecord],
        exc: Exception,
        written: int,
    ) -> UpstreamFailure | Change:
        """Close the account of a batch call that raised: the vendor may or may not have
        applied it (a 5xx or a timeout can come after the write), so its records are re-read
        and recorded as written or not written; those that cannot be re-read (a campaign run,
        a vendor still failing) stay *unconfirmed*. Later batches are *not attempted*. Then
        the change fails, so it is never re-applied, and every record has a result. Returns
        the refusal to raise, or the applied change when the re-read shows that the last
        batch's answer was lost but every record of the plan holds its planned value.
        ``part`` is the connector's part the batch belongs to (the change itself on one)."""
        why = exc.message if isinstance(exc, VendorError) else type(exc).__name__
        verdicts = await _reread(client, part, batch)
        results = [_settled(r, why, verdicts.get(r.ref)) for r in batch]
        await self.store.record_results(
            change.id,
            [
                (res, after_image(rec) if res.ok else {})
                for res, rec in zip(results, batch, strict=True)
            ]
            + [
                (RecordResult(ref=r.ref, ok=False, code="not_attempted", message=why), {})
                for r in rest
            ],
        )
        written += sum(r.ok for r in results)
        total = len(change.plan.effective_records)
        if written == total:
            return await self.store.finish_apply(
                change.id,
                "applied",
                f"the vendor's answer to the last batch was lost ({why}); re-read after it: "
                "every record holds the planned value",
            )
        unknown = len(batch) - len(verdicts)
        settled = (
            f"re-read after the failure: {len(verdicts)} of the failing batch's {len(batch)} "
            f"records settled, {unknown} unconfirmed"
            if verdicts
            else f"the failing batch ({len(batch)} records) is unconfirmed"
        )
        detail = (
            f"upstream failure: {why}; {written} of {total} records written; {settled}; "
            f"{len(rest)} were not attempted"
        )
        if across.is_across(change.plan):
            detail += "; " + account(await self.store.require(change.id))
        failed = await self.store.finish_apply(change.id, "failed", detail)
        head = "was partially applied" if written else "failed before any record was written"
        return UpstreamFailure(
            f"{change.id} {head}: {written} of {total} records written.",
            hint="get_change shows exactly which records were written. The change "
            "will not be re-applied; propose the remainder again.",
            details={"status": failed.status},
        )


NO_REREAD = ("schedule_campaign", "archive_list")  # their drift check reads no batch of people


def _work(change: Change) -> int:
    """An apply's units of progress: every record re-read, then every record written."""
    total = 0
    for part in across.parts(change):
        n = len(part.plan.effective_records)
        total += n if part.plan.operation in NO_REREAD else 2 * n
    return total


@dataclass
class Sent:
    """The write phase's count, for the progress message: records sent, of how many."""

    steps: Steps | None
    total: int
    done: int = 0

    async def batch(self, size: int, written: int) -> None:
        self.done += size
        message = f"applying: {self.done} of {self.total} records sent ({written} written)"
        await advance(self.steps, size, message)


def _account(written: int, total: int) -> str:
    """The one-line account of an apply some of whose records the vendor refused: "failed"
    alone would read as "nothing happened" when most of the change is in the vendor."""
    failed = total - written
    if written:
        return f"partially applied: {written} of {total} records written, {failed} failed"
    return f"nothing written: all {total} records failed"


async def _reread(
    client: Connector, change: Change, batch: Sequence[PlannedRecord]
) -> dict[str, bool]:
    """Whether each record of a failed batch now holds the plan's value; empty when that
    cannot be known (a campaign run, or the re-read fails too)."""
    if change.plan.operation in UNVERIFIABLE:
        return {}
    try:
        return await written_now(client, change, batch)
    except Exception:  # still failing: the records stay unconfirmed, never guessed
        return {}


def _settled(rec: PlannedRecord, why: str, written: bool | None) -> RecordResult:
    if written is None:
        return RecordResult(ref=rec.ref, ok=False, code="unconfirmed", message=why)
    if written:
        return RecordResult(
            ref=rec.ref,
            ok=True,
            code="verified_after_failure",
            message=f"re-read after the failed call ({why}): holds the planned value",
        )
    return RecordResult(
        ref=rec.ref,
        ok=False,
        code="not_written",
        message=f"re-read after the failed call ({why}): does not hold the planned value",
    )


def _lock_keys(change: Change) -> list[str]:
    """What an apply must not share with another in flight: its records, and the list or
    campaign it writes to (a schedule has no records, only its campaign)."""
    keys = [r.ref for r in change.plan.effective_records]
    for part in across.parts(change):  # a change across connectors: each part's list
        if part.plan.target is not None:
            keys.append(f"{part.connector}:{part.plan.target}")
    return keys


def _client_for(
    client: Connector | None, clients: Callable[[str], Connector] | None
) -> Callable[[str], Connector]:
    if clients is not None:
        return clients
    if client is None:
        raise TypeError("apply needs client or clients")
    return lambda _name: client


def account(change: Change) -> str:
    """Per connector, how many of its planned records were written (a change across
    connectors reports this with its outcome)."""
    ok = {r.ref for r in change.outcome.records if r.ok}
    lines = []
    for part in across.parts(change):
        planned = [r.ref for r in part.plan.effective_records]
        lines.append(f"{part.connector} {sum(r in ok for r in planned)} of {len(planned)} written")
    return "; ".join(lines)


def after_image(rec: PlannedRecord) -> dict[str, JsonValue]:
    if rec.changes:
        return {c.field: c.after for c in rec.changes}
    return {rec.action: True}


async def send_batch(
    client: Connector, change: Change, batch: Sequence[PlannedRecord]
) -> list[RecordResult]:
    plan = change.plan
    refs = [r.ref for r in batch]
    op = plan.operation
    if op == "update_fields":
        return await client.update_people(
            [PersonUpdate(ref=r.ref, fields={c.field: c.after for c in r.changes}) for r in batch]
        )
    if op == "add_to_list":
        return await client.add_to_list(str(plan.target), refs)
    if op == "remove_from_list":
        return await client.remove_from_list(str(plan.target), refs)
    if op == "set_campaign_status":
        return await client.set_campaign_status(str(plan.target), refs, str(plan.params["status"]))
    if op == "trigger_campaign":
        return await client.trigger_campaign(
            str(plan.target), refs, dict(plan.params.get("tokens") or {})
        )
    if op == "schedule_campaign":
        run_at = datetime.fromisoformat(str(plan.params["run_at"]))
        return [
            await client.schedule_campaign(
                str(plan.target), run_at, dict(plan.params.get("tokens") or {})
            )
        ]
    if op == "opt_out":
        return await client.opt_out(refs)
    if op == "archive_list":
        return [await client.archive_list(str(plan.target))]
    if op == "merge_people":  # the whole plan is one batch: a survivor and at most 3 losers
        survivor = next(r for r in batch if r.action == "merge")
        losers = [r.ref for r in batch if r.action == "merged_away"]
        fields: dict[str, object] = {c.field: c.after for c in survivor.changes}
        return await client.merge_people(survivor.ref, losers, fields)
    return await client.delete_people(refs)


async def find_drift(
    client: Connector, change: Change, manifest: Manifest, steps: Steps | None = None
) -> list[str]:
    """What moved since the plan, record by record and field by field. ``manifest`` is the one
    the plan was made under (apply has checked its digest). ``steps`` hears of every batch
    re-read."""
    plan = change.plan
    records = plan.effective_records
    if plan.operation == "schedule_campaign":
        return await _audience_drift(client, change, manifest)
    if plan.operation == "archive_list":
        return await list_drift(client, plan)
    sending = plan.operation in ("trigger_campaign", "add_to_list")
    with reading_consent(client.name, f"{len(records)} people") if sending else nullcontext():
        people = await pl.read_people(
            client, [r.ref for r in records], steps, "re-reading before the apply"
        )
    members = (
        await pl.list_member_refs(client, str(plan.target))
        if plan.operation in ("add_to_list", "remove_from_list")
        else None
    )
    statuses = (
        await pl.campaign_statuses(client, str(plan.target))
        if plan.operation == "set_campaign_status"
        else None
    )
    blocks: dict[str, Block] = {}  # who the floor now blocks from this send
    if plan.operation == "trigger_campaign":
        blocks = await floor_blocks(client, people.values(), express_consent(manifest, client.name))
    elif plan.operation == "add_to_list":
        _, blocks = await pl.send_list_floor(client, manifest, str(plan.target), people.values())
    out: list[str] = []
    for rec in records:
        person = people.get(rec.ref)
        if person is None:
            out.append(f"{rec.ref} no longer exists")
            continue
        for field, before in rec.before.items():
            now_value = (
                rec.ref in members
                if field == pl.MEMBER and members is not None
                else statuses.get(rec.ref)
                if field == pl.STATUS and statuses is not None
                else person.fields.get(field)
            )
            if now_value != before:
                out.append(f"{rec.ref} {field} was {before!r} at plan time, is now {now_value!r}")
        if why := blocks.get(rec.ref):
            out.append(f"{rec.ref} is now {why[1]} (consent re-checked at apply)")
    if plan.operation == "update_fields":
        out += await inactive_owners(client, change, manifest)
    return out


async def _audience_drift(client: Connector, change: Change, manifest: Manifest) -> list[str]:
    campaign = await client.get_campaign(str(change.plan.target))
    try:
        with reading_consent(client.name, f"the audience of {campaign.name!r}"):
            people = await pl.schedule_audience(client, campaign)
    except FloorViolation as exc:
        return [exc.message.rstrip(".")]
    blocks = await floor_blocks(client, people.values(), express_consent(manifest, client.name))
    return [
        f"{ref} in the audience is now {why[1]} (consent re-checked at apply)"
        for ref, why in sorted(blocks.items())
    ]
