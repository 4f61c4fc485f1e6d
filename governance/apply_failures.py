"""The account of an apply that did not write everything: per record, what became of it.

A batch call that raises may or may not have been applied by the vendor (a 5xx or a timeout can
come after the write), so its records are re-read and settled as written, not written, or
unconfirmed; later batches are recorded as not attempted, and the change fails so it is never
re-applied. The one-line outcomes say how much of a change is in the vendor.
"""

from __future__ import annotations

from collections.abc import Sequence

from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import VendorError
from mopsgate.crm.records import RecordResult
from mopsgate.governance import across
from mopsgate.governance.apply_batches import after_image
from mopsgate.governance.change_model import Change, PlannedRecord
from mopsgate.governance.errors import UpstreamFailure
from mopsgate.governance.ports import ChangeStore
from mopsgate.governance.vendor_state import UNVERIFIABLE, written_now


async def fail_part_way(
    store: ChangeStore,
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
    await store.record_results(
        change.id,
        [(res, after_image(rec) if res.ok else {}) for res, rec in zip(results, batch, strict=True)]
        + [
            (RecordResult(ref=r.ref, ok=False, code="not_attempted", message=why), {}) for r in rest
        ],
    )
    written += sum(r.ok for r in results)
    total = len(change.plan.effective_records)
    if written == total:
        return await store.finish_apply(
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
        detail += "; " + account(await store.require(change.id))
    failed = await store.finish_apply(change.id, "failed", detail)
    head = "was partially applied" if written else "failed before any record was written"
    return UpstreamFailure(
        f"{change.id} {head}: {written} of {total} records written.",
        hint="get_change shows exactly which records were written. The change "
        "will not be re-applied; propose the remainder again.",
        details={"status": failed.status},
    )


def outcome_line(written: int, total: int) -> str:
    """The one-line account of an apply some of whose records the vendor refused: "failed"
    alone would read as "nothing happened" when most of the change is in the vendor."""
    failed = total - written
    if written:
        return f"partially applied: {written} of {total} records written, {failed} failed"
    return f"nothing written: all {total} records failed"


def account(change: Change) -> str:
    """Per connector, how many of its planned records were written (a change across
    connectors reports this with its outcome)."""
    ok = {r.ref for r in change.outcome.records if r.ok}
    lines = []
    for part in across.parts(change):
        planned = [r.ref for r in part.plan.effective_records]
        lines.append(f"{part.connector} {sum(r in ok for r in planned)} of {len(planned)} written")
    return "; ".join(lines)


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
