"""The write phase of an apply: part by part (one part unless the change spans connectors),
batch by batch, each batch's per-record outcomes recorded durably before the next is sent, so
a crash or an upstream failure leaves an exact account and nothing is ever written twice; a
freeze stops it before its next batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import VendorError
from mopsgate.crm.records import RecordResult
from mopsgate.governance import across
from mopsgate.governance.apply_batches import after_image, send_batch
from mopsgate.governance.apply_failures import account, fail_part_way, outcome_line
from mopsgate.governance.change_model import Change, PlannedRecord
from mopsgate.governance.errors import Frozen
from mopsgate.governance.ports import ChangeStore
from mopsgate.governance.progress import Steps, advance


async def write_change(
    store: ChangeStore,
    client_for: Callable[[str], Connector],
    change: Change,
    steps: Steps | None = None,
) -> Change:
    """Part by part (one part unless the change spans connectors), batch by batch."""
    pieces = [(p, p.plan.effective_records) for p in across.parts(change)]
    records = [r for _, recs in pieces for r in recs]
    written = 0
    sent = Sent(steps, len(records))
    for n, (part, recs) in enumerate(pieces):
        later = [r for _, rest in pieces[n + 1 :] for r in rest]
        done = await _write_part(
            store, client_for(part.connector), change, part, recs, later, written, sent
        )
        if isinstance(done, Change):  # the last answer was lost, the write was not
            return done
        written += done
    ok = written == len(records)
    outcome = None if ok else outcome_line(written, len(records))
    if len(pieces) > 1:
        outcome = (f"{outcome}; " if outcome else "") + account(await store.require(change.id))
    return await store.finish_apply(change.id, "applied" if ok else "failed", outcome)


async def _write_part(
    store: ChangeStore,
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
            await _stop_if_frozen(store, change, [*batch, *rest], so_far)
        try:
            results = await send_batch(client, part, batch)
        except VendorError as exc:
            settled = await fail_part_way(store, client, change, part, batch, rest, exc, so_far)
            if isinstance(settled, Change):
                return settled
            raise settled from exc
        except Exception as exc:  # a bug or a transport error: same account, then re-raise
            await fail_part_way(store, client, change, part, batch, rest, exc, so_far)
            raise
        by_ref = {r.ref: r for r in results}
        outcomes = [
            by_ref.get(rec.ref)
            or RecordResult(
                ref=rec.ref, ok=False, code="no_result", message="vendor returned no result"
            )
            for rec in batch
        ]
        await store.record_results(
            change.id,
            [(r, after_image(rec) if r.ok else {}) for r, rec in zip(outcomes, batch, strict=True)],
        )
        written += sum(r.ok for r in outcomes)
        if sent is not None:
            await sent.batch(len(batch), written_before + written)
    return written


async def _stop_if_frozen(
    store: ChangeStore, change: Change, unsent: Sequence[PlannedRecord], written: int
) -> None:
    """A freeze stops an apply already under way before its next batch, not only the
    applies that start after it (the kill switch of an incident: "stop writing now").
    What was written stays recorded; the rest is *not attempted*, and the change fails,
    so it is finished (or not) by a new, reviewed proposal once applies resume."""
    try:
        await store.ensure_not_frozen()
    except Frozen as exc:
        total = len(change.plan.effective_records)
        await store.record_results(
            change.id,
            [
                (RecordResult(ref=r.ref, ok=False, code="not_attempted", message="frozen"), {})
                for r in unsent
            ],
        )
        await store.finish_apply(
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


NO_REREAD = ("schedule_campaign", "archive_list")  # their drift check reads no batch of people


def work_units(change: Change) -> int:
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
