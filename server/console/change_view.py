"""Everything the change page shows, gathered and made safe to print.

Untrusted values (CRM data, the requester's reason, status details) go through
``diff_lines.visible`` — one line, control, bidi and invisible characters spelled out — and are
then HTML-escaped by the template, so nothing a web-form visitor typed into a CRM can draw
reviewer UI or hide from the person approving. Values of PII fields are masked (or withheld)
unless the reviewer's manifest entry says ``pii = "unmasked"``. Records come a page at a time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from mopsgate.crm.refs import parse_ref
from mopsgate.governance.approvals import approval_summary
from mopsgate.governance.change_model import Approval, Change, ChangeStatus, PlannedRecord
from mopsgate.governance.change_story import (
    ChangeStory,
    PiiView,
    counts,
    shown_changes,
    use_case_of,
    verb,
)
from mopsgate.governance.diff_lines import visible
from mopsgate.governance.manifest_load import digest_matches
from mopsgate.governance.manifest_model import ChecklistItem, Manifest, UseCase
from mopsgate.governance.pii import mask_value
from mopsgate.governance.policy import reviewer_may_approve
from mopsgate.governance.reverting import IRREVERSIBLE
from mopsgate.governance.reviewer_proof import checklist_for

OPEN = frozenset({ChangeStatus.PROPOSED, ChangeStatus.APPROVED})


@dataclass(frozen=True)
class FieldRow:
    field: str
    before: str
    after: str


@dataclass(frozen=True)
class RecordRow:
    ref: str
    who: str
    verb: str
    action: str
    fields: list[FieldRow]


@dataclass(frozen=True)
class Paging:
    page: int
    pages: int
    first: int  # 1-based index of the first record on the page
    last: int
    total: int


@dataclass(frozen=True)
class ChangeView:
    change: Change
    story: ChangeStory
    records: list[RecordRow]
    paging: Paging
    reason: str
    use_case: tuple[str, UseCase] | None
    approvals_line: str  # ready, or what it still needs
    expired: bool
    stale: bool
    reverts: str
    can_approve: bool
    can_reject: bool
    why_not: str
    my_decision: str  # what this reviewer already decided ("" when nothing yet)
    checklist: tuple[ChecklistItem, ...]
    counts: str
    blocked_shown: list[tuple[str, str, str]] = field(default_factory=list)


def page_of(total: int, page: int, size: int) -> Paging:
    pages = max(1, math.ceil(total / size))
    page = min(max(1, page), pages)
    first = (page - 1) * size
    return Paging(page, pages, first + 1 if total else 0, min(total, first + size), total)


def records_on(change: Change, paging: Paging) -> list[PlannedRecord]:
    return change.plan.records[max(0, paging.first - 1) : paging.last]


def _pii_fields(manifest: Manifest, change: Change, obj: str) -> frozenset[str]:
    fields = manifest.catalogue.objects.get(change.connector, {}).get(obj)
    extra = frozenset(manifest.pii.get(change.connector, ()))
    return (fields.pii if fields else frozenset()) | extra


def _value(value: object, pii: bool, view: PiiView) -> str:
    if not pii or view == "unmasked" or value is None:
        return visible(value)
    if view == "none":
        return "(withheld: PII)"
    return visible(mask_value("", value))


def connector_object(ref: str) -> str:
    try:
        return parse_ref(ref).object
    except ValueError:
        return ""


def _row(
    manifest: Manifest, change: Change, record: PlannedRecord, story: ChangeStory
) -> RecordRow:
    obj = connector_object(record.ref)
    pii = _pii_fields(manifest, change, obj)
    fields = [
        FieldRow(
            name, _value(before, name in pii, story.pii), _value(after, name in pii, story.pii)
        )
        for name, before, after in shown_changes(record)
    ]
    who = story.who(record.ref)
    return RecordRow(
        ref=record.ref,
        who=visible(who, quote=False) if who else "",
        verb=visible(verb(record, story.target_name), quote=False),  # it names the target
        action=record.action,
        fields=fields,
    )


def _reviewer_refusal(
    manifest: Manifest, change: Change, reviewer: str, digest: str, now: datetime
) -> str:
    """Why this reviewer cannot decide now ("" when they can); the server checks again."""
    if change.status not in OPEN:
        return f"This change is {change.status}; there is nothing to decide."
    if change.is_expired(now):
        return "This change has expired; the requester must propose it again."
    if change.manifest_digest != digest and not digest_matches(change.manifest_digest, manifest):
        return "The manifest changed since this plan was made; it is stale."
    if reviewer == change.requester:
        return "You proposed this change, so you cannot approve or reject it."
    allowed = reviewer_may_approve(manifest, reviewer, change.risk_class)
    if not allowed.allowed:
        return allowed.reason
    if not manifest.reviewers[reviewer].passkeys:
        return "You have no passkey declared in the manifest."
    return ""


def _reverts(op: str) -> str:
    if op == "opt_out":
        return "No: an opt-out can never be undone (re-subscribing is never possible)."
    if op in IRREVERSIBLE:
        return f"No: {IRREVERSIBLE[op]}."
    return "Yes: propose_revert builds the inverse from the before-images, reviewed like this."


def _my_decision(change: Change, reviewer: str, mine: Approval | None) -> str:
    """The reviewer's own decision, shown instead of the forms once they have made it."""
    if mine is not None:
        at = mine.at.isoformat(timespec="minutes")
        return f"You approved this change at {at}."
    if change.rejection is not None and change.rejection.by == reviewer:
        return f"You rejected this change at {change.rejection.at.isoformat(timespec='minutes')}."
    return ""


def build_view(
    manifest: Manifest,
    digest: str,
    change: Change,
    story: ChangeStory,
    paging: Paging,
    reviewer: str,
    now: datetime,
) -> ChangeView:
    why_not = _reviewer_refusal(manifest, change, reviewer, digest, now)
    mine = next((a for a in change.approvals if a.reviewer == reviewer), None)
    return ChangeView(
        change=change,
        story=story,
        records=[_row(manifest, change, r, story) for r in records_on(change, paging)],
        paging=paging,
        reason=visible(change.reason, 2000),
        use_case=use_case_of(manifest, change),
        approvals_line=approval_summary(manifest, change),
        expired=change.status in OPEN and change.is_expired(now),
        stale=change.status in OPEN and not digest_matches(change.manifest_digest, manifest),
        reverts=_reverts(change.plan.operation),
        can_approve=not why_not and not mine and change.status is ChangeStatus.PROPOSED,
        can_reject=not why_not and not mine,
        why_not=why_not,
        my_decision=_my_decision(change, reviewer, mine),
        checklist=checklist_for(manifest, change.risk_class),
        counts=counts(change.plan.records),
        blocked_shown=[
            (b.ref, b.reason_code, visible(b.reason)) for b in change.plan.blocked[:500]
        ],
    )
