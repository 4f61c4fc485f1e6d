"""What is worth telling people, and what a notification may say: pure functions (#14, #10).

Notifications come from the audit log, because every event they report is audited already: the
review actions, freezes, tool calls and refusals of the server, the CLI and the console. The
audit writer queues a *notice* for each row that matters (:func:`audit_notices`) in the same
transaction as the row, so a row never goes without its notice and nothing is added to a
call's path but one INSERT. The sender later turns a notice into one :class:`Notification` per
matching target, resolved against the manifest in force (who may approve, the console link),
and delivers each from the outbox until it is taken.

A notification carries references (change id, principal, use case, reviewer names as the
manifest spells them) and counts, never a person's data: no reason text, no record contents,
no email of a person the change touches.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import cast

from pydantic import JsonValue

from mopsgate.governance.audit_chain import AuditRow, StoredRow
from mopsgate.governance.cadence import ReviewStatus
from mopsgate.governance.change_model import Change, ChangeStatus
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.notify_model import EventName, WebhookTarget
from mopsgate.governance.outbox import OutboxMessage
from mopsgate.governance.policy import reviewer_may_approve

log = logging.getLogger("mopsgate.notify")

# Outbox topics. Notices are queued by the audit writer; deliveries by the sender.
PROPOSED = "notice.change_proposed"
DECIDED = "notice.change_decided"
APPLY_ENDED = "notice.apply_ended"
FROZEN = "notice.frozen"
UNFROZEN = "notice.unfrozen"
FLOOR = "notice.floor_refused"
OVERDUE = "notice.review_overdue"
DELIVERY = "notify.deliver"

FLOOR_RULE = "compliance-floor"
FLOOR_CODE = "compliance_floor"
RESUMED = "applies resumed"  # an unfreeze that lifted a freeze (not "were not frozen")
TEST_EVENT = "test"


def _topics(row: AuditRow) -> list[str]:
    """The notices one audit row raises (usually none)."""
    found: list[str] = []
    if row.rule_id == FLOOR_RULE or row.error_code == FLOOR_CODE:
        found.append(FLOOR)
    tool = row.tool or ""
    if row.change_id and row.kind == "tool_call":
        if tool.startswith("propose_") and row.outcome == "ok":
            found.append(PROPOSED)
        elif tool == "apply_change":
            found.append(APPLY_ENDED)
    elif row.change_id and row.kind == "recovery":
        found.append(APPLY_ENDED)
    elif row.kind == "review" and row.change_id and row.outcome == "ok":
        found.append(DECIDED)
    elif row.kind == "freeze" and row.outcome == "ok":
        if tool == "freeze":
            found.append(FROZEN)
        elif tool == "unfreeze" and row.result_summary == RESUMED:
            found.append(UNFROZEN)
    return found


_STATUS = re.compile(r"(?:status now |^chg_\w+: )([a-z]+)$")


def _status_said(row: AuditRow) -> str | None:
    """The status a review or apply row says the change reached (``review_events`` and the
    change tools write it), so the notification reports that moment even if the change has
    moved on by the time the sender looks (approved, then applied a second later)."""
    found = _STATUS.search(row.result_summary or "") if row.outcome == "ok" else None
    return found.group(1) if found else None


def audit_notices(rows: Sequence[StoredRow]) -> list[OutboxMessage]:
    """The notices a batch of stored audit rows raises, keyed by row, for the audit writer to
    queue in the row's own transaction. Only references and counts are copied. A row this
    cannot read raises no notice (logged) rather than fail the audit write it rides on."""
    out: list[OutboxMessage] = []
    for raw in rows:
        try:
            out.extend(_notices_of(AuditRow.of(raw)))
        except Exception:
            log.exception("no notification for audit row %s", raw[0] if raw else "?")
    return out


def _notices_of(row: AuditRow) -> list[OutboxMessage]:
    topics = _topics(row)
    if not topics:
        return []
    refs: dict[str, JsonValue] = {
        "audit_seq": row.seq,
        "at": row.ts,
        "tool": row.tool,
        "principal": row.principal,
        "connector": row.connector,
        "use_case": row.use_case,
        "change_id": row.change_id,
        "records": len(row.refs),
        "status": _status_said(row),
    }
    return [OutboxMessage(t, f"audit:{row.seq}:{t}", refs) for t in topics]


def overdue_notice(status: ReviewStatus) -> OutboxMessage:
    """Queued by the sender's hourly look at the manifest; keyed by use case and review date,
    so each overdue review is announced once (and again after the date is moved and missed)."""
    return OutboxMessage(
        OVERDUE,
        f"overdue:{status.use_case}:{status.review_date.isoformat()}",
        {"use_case": status.use_case, "at": dt.datetime.now(dt.UTC).isoformat()},
    )


@dataclass(frozen=True)
class Notification:
    """One event as a target receives it. ``key`` is the Idempotency-Key: the same for every
    attempt and every target, so a receiver can drop a repeat."""

    event: EventName | str
    key: str
    at: str
    summary: str
    to: tuple[str, ...] = ()
    link: str | None = None
    refs: Mapping[str, str] = field(default_factory=dict)
    counts: Mapping[str, int] = field(default_factory=dict)

    def as_json(self) -> dict[str, JsonValue]:
        return {
            "event": self.event,
            "key": self.key,
            "at": self.at,
            "summary": self.summary,
            "to": list(self.to),
            "link": self.link,
            "refs": dict(self.refs),
            "counts": dict(self.counts),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JsonValue]) -> Notification:
        link = data.get("link")
        return cls(
            event=str(data["event"]),
            key=str(data["key"]),
            at=str(data["at"]),
            summary=str(data["summary"]),
            to=tuple(str(t) for t in cast(list[JsonValue], data.get("to") or [])),
            link=str(link) if link is not None else None,
            refs={k: str(v) for k, v in cast(dict[str, JsonValue], data["refs"]).items()},
            counts={
                k: int(cast(int, v)) for k, v in cast(dict[str, JsonValue], data["counts"]).items()
            },
        )


_STATUSES = {str(s) for s in ChangeStatus}


def _refs(**values: object) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None and v != ""}


def may_approve(manifest: Manifest, change: Change) -> tuple[str, ...]:
    """The reviewers who could still approve ``change``: entitled to its risk class, not its
    requester and not among those who already approved."""
    done = {a.reviewer for a in change.approvals}
    return tuple(
        name
        for name in sorted(manifest.reviewers)
        if name != change.requester
        and name not in done
        and name not in manifest.principals
        and reviewer_may_approve(manifest, name, change.risk_class).allowed
    )


def _change_refs(change: Change) -> dict[str, str]:
    return _refs(
        change_id=change.id,
        risk_class=change.risk_class,
        connector=change.connector,
        requester=change.requester,
        use_case=change.use_case,
        status=change.status,
    )


def change_notification(
    topic: str, notice: Mapping[str, JsonValue], change: Change, manifest: Manifest, console: str
) -> Notification | None:
    """The notification a change notice stands for, judged from the change as it is now (a
    decision or an apply that did not move the change raises none)."""
    at = str(notice.get("at") or "")
    link = f"{console.rstrip('/')}/changes/{change.id}"
    records = len(change.plan.effective_records)
    what = f"{change.risk_class} change {change.id} ({records} records on {change.connector})"
    counts = {"records": records, "blocked": len(change.plan.blocked)}
    if topic == PROPOSED:
        needed = change.approvals_required.count
        return Notification(
            "change.awaiting_review",
            f"{change.id}:awaiting_review",
            at,
            f"{what} from {change.requester} awaits review: {needed} approval(s) needed",
            to=may_approve(manifest, change),
            link=link,
            refs={**_change_refs(change), "expires_at": change.expires_at.isoformat()},
            counts={**counts, "approvals_needed": needed},
        )
    said = notice.get("status")
    status = ChangeStatus(said) if isinstance(said, str) and said in _STATUSES else change.status
    by = str(notice.get("principal") or "")
    if topic == DECIDED and status in (ChangeStatus.APPROVED, ChangeStatus.REJECTED):
        verb = str(status)
        return Notification(
            f"change.{verb}",
            f"{change.id}:{verb}",
            at,
            f"{what} was {verb}" + (f" by {by}" if by else ""),
            to=(change.requester,),
            link=link,
            refs={**_change_refs(change), **_refs(by=by), "status": str(status)},
            counts={**counts, "approvals": len({a.reviewer for a in change.approvals})},
        )
    if topic == APPLY_ENDED and status in (
        ChangeStatus.APPLIED,
        ChangeStatus.FAILED,
        ChangeStatus.STALE,
    ):
        written = len(change.outcome.written)
        failed = sum(1 for r in change.outcome.records if not r.ok)
        verb = {"applied": "was applied", "failed": "failed", "stale": "is stale"}[str(status)]
        return Notification(
            f"change.{status}",
            f"{change.id}:{status}",
            at,
            f"{what} {verb}: {written} written, {failed} failed",
            to=(change.requester,),
            link=link,
            refs={**_change_refs(change), "status": str(status)},
            counts={**counts, "written": written, "failed": failed},
        )
    return None


def plain_notification(topic: str, notice: Mapping[str, JsonValue], key: str) -> Notification:
    """A freeze, an unfreeze or a compliance-floor refusal: everything is in the notice."""
    at = str(notice.get("at") or "")
    by = str(notice.get("principal") or "(unknown)")
    seq = notice.get("audit_seq")
    refs = _refs(by=by, audit_seq=seq)
    if topic == FROZEN:
        return Notification("applies.frozen", key, at, f"Applies frozen by {by}", refs=refs)
    if topic == UNFROZEN:
        return Notification("applies.unfrozen", key, at, f"Applies resumed by {by}", refs=refs)
    tool, connector, use_case = (notice.get(k) for k in ("tool", "connector", "use_case"))
    records = int(cast(int, notice.get("records") or 0))
    return Notification(
        "compliance_floor.refused",
        key,
        at,
        f"The compliance floor refused {tool} for {by}"
        + (f" on {connector}" if connector else "")
        + (f" ({records} records named in audit row {seq})" if records else f" (audit row {seq})"),
        refs=_refs(principal=by, tool=tool, connector=connector, use_case=use_case, audit_seq=seq),
        counts={"records": records},
    )


def overdue_notification(
    notice: Mapping[str, JsonValue], key: str, manifest: Manifest, status: ReviewStatus
) -> Notification:
    uc = manifest.use_cases[status.use_case]
    return Notification(
        "use_case.review_overdue",
        key,
        str(notice.get("at") or ""),
        f"Use case {status.use_case} was due for review on {status.review_date} "
        f"({status.days_overdue} day(s) overdue; on_overdue = {status.on_overdue}, "
        f"state {status.state})",
        to=(uc.owners.escalation,) if uc.owners.escalation else (),
        refs=_refs(
            use_case=status.use_case,
            review_date=status.review_date.isoformat(),
            on_overdue=status.on_overdue,
            state=status.state,
            enforced_from=status.enforced_from.isoformat(),
        ),
        counts={"days_overdue": status.days_overdue},
    )


def probe_notification(now: dt.datetime, nonce: str) -> Notification:
    return Notification(
        TEST_EVENT,
        f"test:{nonce}",
        now.isoformat(),
        "mopsgate test notification: this target is reachable",
    )


def wants(target: WebhookTarget, note: Notification) -> bool:
    """Whether ``target`` receives ``note`` (a test always goes to every target)."""
    if note.event == TEST_EVENT:
        return True
    if target.events and note.event not in target.events:
        return False
    if note.event == "change.awaiting_review" and target.reviewers:
        return bool(set(target.reviewers) & set(note.to))
    return True


BACKOFF_BASE = timedelta(seconds=2)
BACKOFF_CAP = timedelta(minutes=10)


def retry_delay(attempts: int, rand: Callable[[], float] = random.random) -> timedelta:
    """Exponential backoff with jitter: about 2 s, 4 s, 8 s … up to 10 minutes, each between
    half and all of that, so many senders after one outage do not retry in step."""
    step = min(BACKOFF_CAP, BACKOFF_BASE * (1 << max(0, min(attempts - 1, 20))))
    return step * (0.5 + rand() / 2)
