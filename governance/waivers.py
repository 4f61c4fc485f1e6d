"""Time-boxed exceptions: a reviewer waives one limit of one use case until a set time.

An admin who needs a use case to do a little more for a week should not edit the manifest and
forget to edit it back: that leaves no author, no ticket, no expiry. An exception names what it
waives (``tool:NAME`` an extra tool, ``read_field:F`` or ``write_field:F`` an extra field,
``max_records:N`` a raised cap per change), is signed by an entitled reviewer like an approval,
and lapses by itself at ``expires_at`` (or when revoked).

It is applied as an overlay on the manifest in force: every allow rule of the use case is widened
by the waiver and the result goes through the very checks a manifest file goes through, so an
exception can never do what the manifest could not — write a consent field, lower an approval
count (it never touches approvals) — and it can never enable a delete tool, whatever the file
allows. Nothing here stores anything.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.errors import InvalidInput, NotPermitted
from mopsgate.governance.manifest_checks import run_checks, suggest
from mopsgate.governance.manifest_model import (
    MAX_RECORDS_PER_CHANGE,
    WILDCARD,
    AllowRule,
    DenyRule,
    Manifest,
    check_ident,
)
from mopsgate.governance.policy import reviewer_may_approve
from mopsgate.governance.policy_core import (
    DEFAULT_RECORD_CAP,
    compiled,
    mode_of,
    proposes,
    tool_match,
)
from mopsgate.governance.risk import WRITE_CLASSES, Mode, RiskClass
from mopsgate.governance.waiver_statement import SignedWaiver

WaiverKind = Literal["tool", "read_field", "write_field", "max_records"]
WaiverState = Literal["active", "expired", "revoked"]
KINDS: tuple[WaiverKind, ...] = ("tool", "read_field", "write_field", "max_records")
MAX_DURATION = dt.timedelta(days=90)
MIN_DURATION = dt.timedelta(minutes=5)
LAPSE_TOOL = "exception lapse"
# A lapse row is looked for from this long before the expiry on (clocks of replicas differ).
LAPSE_SKEW = dt.timedelta(hours=1)


@dataclass(frozen=True)
class Waiver:
    """One exception as stored: the grant's signed statement, and its revocation if any."""

    id: str
    use_case: str
    what: str
    granted_at: dt.datetime
    expires_at: dt.datetime
    reviewer: str
    ticket: str
    reason: str
    grant: SignedWaiver
    revoked_at: dt.datetime | None = None
    revoked_by: str | None = None
    revoke_reason: str | None = None
    revoke: SignedWaiver | None = None

    def state(self, now: dt.datetime) -> WaiverState:
        if self.revoked_at is not None and self.revoked_at <= now:
            return "revoked"
        return "expired" if now >= self.expires_at else "active"


def lapse_window(waiver: Waiver) -> dt.datetime:
    return waiver.expires_at - LAPSE_SKEW


def lapse_event(waiver: Waiver) -> AuditEvent:
    """The row that says an exception ended by itself: nobody acted, so the principal is the
    system; it is written once, by the first process to notice (``Exceptions.record_lapses``)."""
    return AuditEvent(
        kind="exception",
        principal="(system)",
        tool=LAPSE_TOOL,
        arguments={
            "what": waiver.what,
            "expires_at": waiver.expires_at.isoformat(timespec="seconds"),
            "ticket": waiver.ticket,
            "granted_by": waiver.reviewer,
        },
        use_case=waiver.use_case,
        decision="n/a",
        outcome="ok",
        reason=f"expired at {waiver.expires_at:%Y-%m-%d %H:%M} UTC",
        result_summary=waiver.id,
    )


@dataclass(frozen=True)
class What:
    kind: WaiverKind
    value: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


def parse_what(text: str) -> What:
    """``tool:NAME``, ``read_field:F``, ``write_field:F`` or ``max_records:N``."""
    kind, sep, value = text.strip().partition(":")
    if not sep or kind not in KINDS or not value:
        raise InvalidInput(
            f"--what {text!r} is not one of tool:NAME, read_field:FIELD, write_field:FIELD, "
            "max_records:N",
            hint="e.g. --what tool:add_to_list or --what max_records:500",
        )
    if kind == "max_records":
        if not value.isdigit() or not 1 <= int(value) <= MAX_RECORDS_PER_CHANGE:
            raise InvalidInput(
                f"max_records must be a whole number from 1 to {MAX_RECORDS_PER_CHANGE}",
                hint="e.g. --what max_records:500",
            )
    else:
        try:
            check_ident(value)
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
    return What(kind, value)


def waiver_risk(manifest: Manifest, what: What) -> RiskClass:
    """The risk class whose approvers may grant this waiver: a tool's own class; a written
    field or a cap per change, field updates; a read field, reads."""
    if what.kind == "tool":
        return manifest.catalogue.tools[what.value]
    if what.kind == "read_field":
        return RiskClass.READ
    return RiskClass.UPDATE_FIELDS


def check_entitled(manifest: Manifest, reviewer: str, what: What) -> None:
    """Who may grant: a reviewer entitled to approve the waiver's risk class (for a read
    waiver, any reviewer entitled to approve something)."""
    risk = waiver_risk(manifest, what)
    rv = manifest.reviewers.get(reviewer)
    if risk is RiskClass.READ and rv is not None and rv.risk_classes:
        return
    decision = reviewer_may_approve(manifest, reviewer, risk)
    if not decision.allowed:
        raise NotPermitted(
            f"{reviewer} may not grant an exception for {what}: {decision.reason}",
            rule_id=decision.rule_id,
            details={"reason_code": "not_entitled"},
        )


def _rules_of(manifest: Manifest, use_case: str) -> list[AllowRule]:
    return [r for r in manifest.rules if isinstance(r, AllowRule) and r.use_case == use_case]


def _widen(rule: AllowRule, what: What, manifest: Manifest) -> AllowRule:
    data = rule.model_dump(exclude_unset=True)
    if what.kind == "tool":
        risk = manifest.catalogue.tools[what.value]
        if what.value not in rule.tools:
            data["tools"] = (*rule.tools, what.value)
        if mode_of(rule, risk) is Mode.DENY or (
            risk is not RiskClass.READ and mode_of(rule, risk) is not Mode.PROPOSE
        ):
            data["modes"] = {
                **rule.modes,
                risk: Mode.READ if risk is RiskClass.READ else Mode.PROPOSE,
            }
    elif what.kind == "read_field":
        if WILDCARD not in rule.read_fields and what.value not in rule.read_fields:
            data["read_fields"] = (*rule.read_fields, what.value)
        data["deny_fields"] = tuple(f for f in rule.deny_fields if f != what.value)
    elif what.kind == "write_field":
        if what.value not in rule.write_fields:
            data["write_fields"] = (*rule.write_fields, what.value)
        data["deny_fields"] = tuple(f for f in rule.deny_fields if f != what.value)
    else:
        data["max_records_per_change"] = int(what.value)
    return AllowRule.model_validate(data)


def _floor(manifest: Manifest, use_case: str, what: What) -> None:
    """What no exception may do, whatever the manifest allows."""
    if use_case not in manifest.use_cases:
        known = ", ".join(sorted(manifest.use_cases)) or "none"
        raise InvalidInput(f"there is no use case {use_case!r} (use cases: {known})")
    if not _rules_of(manifest, use_case):
        raise InvalidInput(f"use case {use_case!r} has no allow rule for an exception to widen")
    if what.kind == "tool":
        risk = manifest.catalogue.tools.get(what.value)
        if risk is None:
            tools = manifest.catalogue.tools
            raise InvalidInput(
                f"there is no tool {what.value!r}{suggest(what.value, tools)}",
                hint="Tools an exception can name: " + ", ".join(sorted(tools)) + ".",
            )
        if risk is RiskClass.DELETE:
            raise NotPermitted(
                f"{what.value} deletes records: no exception can enable deletes",
                hint="a delete grant belongs in the manifest itself, reviewed as such",
                rule_id="compliance-floor",
                details={"reason_code": "floor"},
            )
    if what.kind == "max_records":
        ids = _targets(manifest, use_case, what)
        for rule in (r for r in _rules_of(manifest, use_case) if r.id in ids):
            current = rule.max_records_per_change or DEFAULT_RECORD_CAP
            if int(what.value) <= current:
                raise InvalidInput(
                    f"max_records:{what.value} does not raise rule {rule.id!r}'s cap of "
                    f"{current}: an exception only ever raises a cap",
                )


def _targets(manifest: Manifest, use_case: str, what: What) -> set[str]:
    """The ids of the use case's rules a waiver widens: those already granting its risk class
    (a field update waiver widens the rules that propose updates, not the read grant); when
    none does, every rule of the use case."""
    rules = _rules_of(manifest, use_case)
    if what.kind == "max_records":
        tools = manifest.catalogue.tools
        chosen = [r for r in rules if any(proposes(r, k, tools) for k in WRITE_CLASSES)]
    else:
        risk = waiver_risk(manifest, what)
        chosen = [r for r in rules if proposes(r, risk, manifest.catalogue.tools)]
    return {r.id for r in chosen or rules}


def apply_waivers(manifest: Manifest, waivers: Sequence[Waiver]) -> Manifest:
    """The manifest with every waiver applied, checked like a manifest file; the manifest
    itself when there are none. InvalidInput / NotPermitted when a waiver is not allowed."""
    if not waivers:
        return manifest
    rules = list(manifest.rules)
    for w in waivers:
        what = parse_what(w.what)
        _floor(manifest, w.use_case, what)
        ids = _targets(manifest, w.use_case, what)
        rules = [
            _widen(r, what, manifest) if isinstance(r, AllowRule) and r.id in ids else r
            for r in rules
        ]
    # The rules are validated one by one (``_widen``); the copy keeps what the file set and
    # what it left to defaults, so the checks below judge it exactly as they judge the file.
    widened = manifest.model_copy(update={"rules": tuple(rules)})
    widened.bind(manifest.catalogue)
    problems: list[str] = []
    run_checks(widened, manifest.catalogue, lambda _loc, message, _needle: problems.append(message))
    if problems:
        raise NotPermitted(
            "the exception would break a rule every manifest must keep: " + "; ".join(problems),
            hint="an exception cannot do what the manifest itself could not",
            rule_id="compliance-floor",
            details={"reason_code": "floor"},
        )
    compiled(widened)
    return widened


def check_grant(manifest: Manifest, use_case: str, what: What, reviewer: str) -> None:
    """Refuse a grant the floor forbids or this reviewer may not make (before signing, so the
    refusal names the real problem)."""
    _floor(manifest, use_case, what)
    check_entitled(manifest, reviewer, what)


def check_not_overridden(manifest: Manifest, use_case: str, what: What) -> None:
    """Refuse a grant an explicit deny rule would undo for every principal of the use case:
    a deny wins over every grant, an exception's included, so it would do nothing while the
    reviewer, the ticket and ``exception list`` all say it is in force."""
    if what.kind == "max_records":
        return
    principals = [p for p, cfg in manifest.principals.items() if use_case in cfg.use_cases]
    tools = manifest.catalogue.tools

    def undoes(rule: DenyRule, principal: str) -> bool:
        if principal not in rule.principals and WILDCARD not in rule.principals:
            return False
        if WILDCARD not in rule.connectors or WILDCARD not in rule.objects:
            return False  # it withholds only somewhere: the exception works elsewhere
        if what.kind == "tool":
            return not rule.fields and tool_match(rule.tools, what.value, tools[what.value])
        return what.value in rule.fields and WILDCARD in rule.tools

    denies = [r for r in manifest.rules if isinstance(r, DenyRule)]
    blocking = [next((r for r in denies if undoes(r, p)), None) for p in principals]
    if principals and all(r is not None for r in blocking):
        rule = next(r for r in blocking if r is not None)
        raise NotPermitted(
            f"{what} would change nothing for use case {use_case!r}: deny rule {rule.id!r} "
            f"withholds it ({rule.reason or 'no reason given'}), and an explicit deny wins over "
            "every grant, an exception's included",
            hint="if the deny rule is wrong, change it in the manifest (a reviewed edit)",
            rule_id=rule.id,
            details={"reason_code": "denied_by_rule"},
        )


def check_duration(granted: dt.datetime, expires: dt.datetime) -> None:
    if not MIN_DURATION <= expires - granted <= MAX_DURATION:
        raise InvalidInput(
            f"an exception lasts from {MIN_DURATION} to {MAX_DURATION.days} days",
            hint="e.g. --expires 7d; a longer need belongs in the manifest",
        )
