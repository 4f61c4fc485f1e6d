"""The diff a reviewer reads before approving, as styled lines: plain text here (tools, logs);
the coloured terminal view (``server/cli_render.py``) draws the very same lines.

Everything that came from outside — CRM values and the requester's reason — is untrusted. It is
shown literally, on one line, with control, bidi and invisible characters spelled out as
``<U+202E>`` and newlines as ``\\n``: text typed into a web form must never be able to draw a fake
"approved by compliance" line or hide part of a value from the person approving it. Every renderer
draws :func:`diff_lines`, segments of (text, style), so no view shows something the plain one
does not, and none has to parse markup.
"""

from __future__ import annotations

import json
import unicodedata
from typing import Any

from mopsgate.governance.change_model import Change, PlannedRecord

MAX_VALUE_LEN = 300
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"})
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_MARKS = {"update": "~", "add": "+", "remove": "-", "noop": "=", "delete": "x"}
_STYLES = {"~": "yellow", "+": "green", "-": "red", "=": "dim", "x": "bold red"}
UNTRUSTED = "untrusted"

Segment = tuple[str, str]  # (text, rich style); style UNTRUSTED marks outside text
Line = list[Segment]


def _is_hidden(ch: str) -> bool:
    cp = ord(ch)
    selector = 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF
    return selector or unicodedata.category(ch) in _HIDDEN_CATEGORIES


def visible(value: object, limit: int = MAX_VALUE_LEN, *, quote: bool = True) -> str:
    """One line, every character visible; strings quoted (unless ``quote`` is False) so
    leading/trailing spaces show."""
    if value is None:
        return "(empty)"
    if isinstance(value, str):
        text = value
    else:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif _is_hidden(ch):
            out.append(f"<U+{ord(ch):04X}>")
        else:
            out.append(ch)
    shown, more = "".join(out), ""
    if len(shown) > limit:
        shown, more = shown[:limit], f"… ({len(shown) - limit} more characters)"
    return (f'"{shown}"' if quote and isinstance(value, str) else shown) + more


def _u(value: Any) -> Segment:
    return (visible(value), UNTRUSTED)


def _record_lines(record: PlannedRecord) -> list[Line]:
    mark = _MARKS.get(record.action, "~")
    style = _STYLES[mark]
    head: Line = [(f"  {mark} ", style), (record.ref, "bold"), (f" ({record.action})", style)]
    if record.action == "noop":
        head.append((" nothing to do: already as planned", "dim"))
    lines = [head]
    for fc in record.changes:
        lines.append([(f"      {fc.field}: ", ""), _u(fc.before), (" → ", "bold"), _u(fc.after)])
    return lines


def _header(change: Change) -> list[Line]:
    req = change.approvals_required
    roles = f" (roles required: {', '.join(req.roles)})" if req.roles else ""
    got = ", ".join(a.reviewer for a in change.approvals) or "none yet"
    lines: list[Line] = [
        [(f"Change {change.id}", "bold"), (f"  status: {change.status}", "bold cyan")],
        [
            (f"Risk class: {change.risk_class}   tool: {change.tool}   ", ""),
            (f"connector: {change.connector}", ""),
        ],
        [(f"Requested by: {change.requester}   at {_when(change.created_at)}", "")],
        [(f"Expires: {_when(change.expires_at)}", "")],
        [
            ("Reason given by the requester (untrusted text, shown literally): ", "italic"),
            _u(change.reason),
        ],
        [(f"Approvals: {len(change.approvals)} of {req.count}{roles}; so far: {got}", "")],
    ]
    if change.revert_of:
        lines.append([(f"Reverts change {change.revert_of}", "magenta")])
    if change.finish_of:
        lines.append([(f"Finishes change {change.finish_of} (its unwritten records)", "magenta")])
    if change.status_detail:
        lines.append([("Status detail: ", ""), _u(change.status_detail)])
    return lines


def _when(value: Any) -> str:
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else str(value)


def _plan_lines(change: Change) -> list[Line]:
    plan = change.plan
    lines: list[Line] = [[(f"Plan: {plan.operation} on {plan.connector}", "bold")]]
    if plan.target:
        lines.append([("  target: ", ""), _u(plan.target)])
    for key in sorted(plan.params):
        lines.append([(f"  {key}: ", ""), _u(plan.params[key])])
    lines.append([("Records (CRM values are untrusted and shown literally):", "bold")])
    for record in plan.records:
        lines.extend(_record_lines(record))
    if not plan.records:
        lines.append([("  (no records)", "dim")])
    if plan.blocked:
        lines.append(
            [("Blocked by the compliance floor or policy (not part of this change):", "bold red")]
        )
        for b in plan.blocked:
            lines.append(
                [
                    ("  ! ", "bold red"),
                    (b.ref, "bold"),
                    (f" [{b.reason_code}] ", "red"),
                    _u(b.reason),
                ]
            )
    return lines


def _summary(change: Change) -> Line:
    s = change.plan.summary
    text = (
        f"Summary: {s.records} record(s), {s.field_changes} field change(s), {s.adds} add(s), "
        f"{s.removes} remove(s), {s.noops} no-op(s), {s.blocked} blocked"
    )
    return [(text, "bold")]


def _outcome_lines(change: Change) -> list[Line]:
    out = change.outcome
    if not out.records and not out.detail:
        return []
    lines: list[Line] = [[("Outcome:", "bold")]]
    if out.detail:
        lines.append([("  ", ""), _u(out.detail)])
    for r in out.records:
        mark, style = ("ok", "green") if r.ok else ("FAILED", "bold red")
        line: Line = [(f"  {mark} ", style), (r.ref, "")]
        if r.code or r.message:
            line += [(f" {r.code or ''} ", style), _u(r.message)]
        lines.append(line)
    return lines


def diff_lines(change: Change) -> list[Line]:
    return [*_header(change), *_plan_lines(change), _summary(change), *_outcome_lines(change)]


def render_text(change: Change) -> str:
    return "\n".join("".join(text for text, _ in line) for line in diff_lines(change))
