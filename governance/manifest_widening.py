"""Whether a manifest edit widens what anyone may do (catalogue M-17), decided from the two
versions, failing closed.

A widening edit takes effect only once reviewers have approved exactly that change
(``manifest_approval``); an edit that only narrows, or changes nothing that grants anything
(a description, a rule's reason), applies at once. So every field is judged by a rule that says
which direction narrows: a grant's names may only shrink, a deny list may only grow, a count of
approvals may only rise, a limit may only fall. A field without such a rule — one added by a
later mopsgate, say — counts as widening whenever it changes: nothing that is not provably
narrowing or neutral slips through.

Both versions are compared as validated models dumped to JSON, so a default the file leaves
out compares equal to the same value spelled out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from mopsgate.governance.manifest_model import (
    ApprovalPolicy,
    ConnectorConfig,
    Manifest,
    ManifestChanges,
)
from mopsgate.governance.policy_core import DEFAULT_RATE_LIMIT, DEFAULT_RECORD_CAP
from mopsgate.governance.risk import DEFAULT_MODES, RiskClass

# True when the new value grants no more than the old one.
NoWider = Callable[[Any, Any], bool]


def _same(old: Any, new: Any) -> bool:
    return bool(old == new)


def _neutral(_old: Any, _new: Any) -> bool:
    """Text for the humans reading the file (a description, a reason): it grants nothing."""
    return True


def _items(value: Any) -> set[str]:
    if value is None:
        return set()
    return {json.dumps(v, sort_keys=True) for v in value}


def _subset(old: Any, new: Any) -> bool:
    """A grant: the new names must all be among the old ones ("*" is just a name here, so
    naming tools where "*" stood counts as widening: "*" never matches send or delete tools)."""
    return _items(new) <= _items(old)


def _superset(old: Any, new: Any) -> bool:
    """A restriction: every old entry must still be there."""
    return _items(old) <= _items(new)


def _at_most(default: int | None) -> NoWider:
    """A limit: the new one no higher (``None`` is ``default``; no default, no limit)."""

    def check(old: Any, new: Any) -> bool:
        a = default if old is None else old
        b = default if new is None else new
        if b is None:
            return a is None
        return a is None or b <= a

    return check


def _at_least(default: int) -> NoWider:
    """A requirement: the new one no lower (``None`` is ``default``)."""

    def check(old: Any, new: Any) -> bool:
        return (default if new is None else new) >= (default if old is None else old)

    return check


def _ranked(*order: str, up: bool) -> NoWider:
    """An ordered setting: ``up`` when moving up the order narrows, else moving down does."""

    def check(old: Any, new: Any) -> bool:
        if old not in order or new not in order:
            return bool(old == new)
        a, b = order.index(old), order.index(new)
        return b >= a if up else b <= a

    return check


def _not_later(old: Any, new: Any) -> bool:
    return isinstance(old, str) and isinstance(new, str) and new <= old  # ISO dates


def _records_over(old: Any, new: Any) -> bool:
    """Changes above this many records need more approvals: lower (or newly set) narrows."""
    if new is None:
        return old is None
    return old is None or bool(new <= old)


def _modes(old: Any, new: Any) -> bool:
    order = ("deny", "read", "propose")
    for risk in RiskClass:
        a = (old or {}).get(risk.value, DEFAULT_MODES[risk].value)
        b = (new or {}).get(risk.value, DEFAULT_MODES[risk].value)
        if not _ranked(*order, up=False)(a, b):
            return False
    return True


def _rule_approvals(old: Any, new: Any) -> bool:
    a, b = old or {}, new or {}
    return all(b.get(risk, 0) >= a.get(risk, 0) for risk in a)


def _rate_limit(old: Any, new: Any) -> bool:
    default = DEFAULT_RATE_LIMIT.model_dump(mode="json")
    a, b = old or default, new or default
    return all(b[k] <= a[k] for k in default) and set(b) <= set(default)


_CONNECTOR: dict[str, NoWider] = {
    "environment": _same,
    "not_send_lists": _subset,  # a list declared as feeding no send escapes the floor
    "express_consent_countries": _superset,
    "consent_evidence_field": _same,
}
_REVIEWER: dict[str, NoWider] = {
    "name": _neutral,
    "email": _same,  # where review requests go
    "roles": _subset,
    "risk_classes": _subset,
    "pii": _ranked("none", "masked", "unmasked", up=False),
    "may_freeze": _same,  # a safety brake: neither granted nor taken away unreviewed
    "keys": _subset,
    "passkeys": _subset,
}
_USE_CASE: dict[str, NoWider] = {
    "purpose": _neutral,
    "risk_level": _ranked("low", "medium", "high", up=True),
    "review_date": _not_later,
    "on_overdue": _ranked("warn", "propose_only", "deny", up=True),
    "grace_days": _at_most(14),
    "owners": _same,  # who is told and who answers
}
_APPROVAL_POLICY: dict[str, NoWider] = {
    "count": _at_least(0),
    "roles": _superset,
    "reviewers": lambda old, new: bool(new) and _subset(old or new, new),
    "records_over": _records_over,
    "extra": _at_least(1),
    "checklist": _superset,
}
_PRINCIPAL: dict[str, NoWider] = {
    "description": _neutral,
    "use_cases": _subset,
    "rate_limit": _rate_limit,
}
_RULE: dict[str, NoWider] = {"id": _same, "effect": _same, "reason": _neutral}
_ALLOW: dict[str, NoWider] = {
    **_RULE,
    "principals": _subset,
    "tools": _subset,
    "connectors": _subset,
    "objects": _subset,
    "use_case": _same,
    "read_fields": _subset,
    "deny_fields": _superset,
    "write_fields": _subset,
    "pii": _ranked("masked", "unmasked", up=False),
    "modes": _modes,
    "approvals": _rule_approvals,
    "max_records_per_change": _at_most(DEFAULT_RECORD_CAP),
}


def _deny_fields(old: Any, new: Any) -> bool:
    """Empty means the whole tool is denied: from whole to some fields widens."""
    if not old:
        return not new
    return not new or _superset(old, new)


_DENY: dict[str, NoWider] = {
    **_RULE,
    "principals": _superset,
    "tools": _superset,
    "connectors": _superset,
    "objects": _superset,
    "fields": _deny_fields,
}


def _fields(
    where: str, old: Mapping[str, Any], new: Mapping[str, Any], spec: Mapping[str, NoWider]
) -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if a != b and not spec.get(key, _same)(a, b):
            out.append(f"{where}: {key}")
    return out


def _named(
    label: str,
    old: Mapping[str, Any],
    new: Mapping[str, Any],
    spec: Mapping[str, NoWider],
    *,
    absent: Mapping[str, Any] | None = None,
) -> list[str]:
    """Entries by name. Without ``absent`` an added entry widens and a removed one narrows;
    with it, an entry missing on one side is judged as ``absent`` (the defaults it stands for)."""
    out = []
    for name in sorted(set(old) | set(new)):
        a, b = old.get(name), new.get(name)
        if a == b:
            continue
        if absent is not None:
            out += _fields(f"{label} {name}", a or absent, b or absent, spec)
        elif a is None:
            out.append(f"added {label} {name}")
        elif b is not None:
            out += _fields(f"{label} {name}", a, b, spec)
    return out


def _rules(old: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[str]:
    a = {str(r["id"]): r for r in old}
    b = {str(r["id"]): r for r in new}
    out = []
    for rid in sorted(set(a) | set(b)):
        was, now = a.get(rid), b.get(rid)
        if was == now:
            continue
        if now is None:
            if was is not None and was["effect"] == "deny":
                out.append(f"removed deny rule {rid}")
        elif was is None or was["effect"] != now["effect"]:
            if now["effect"] == "allow":
                out.append(f"added allow rule {rid}")
        else:
            spec = _ALLOW if now["effect"] == "allow" else _DENY
            out += _fields(f"{now['effect']} rule {rid}", was, now, spec)
    return out


def _pii(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return [
        f"PII fields of {name}"
        for name in sorted(set(old) | set(new))
        if not _superset(old.get(name), new.get(name))
    ]


def widenings(old: Manifest, new: Manifest) -> list[str]:
    """What in ``new`` grants more than ``old``, one line each; empty when ``new`` only
    narrows or changes nothing that grants anything."""
    a: dict[str, Any] = old.model_dump(mode="json")
    b: dict[str, Any] = new.model_dump(mode="json")
    out: list[str] = []
    for key in sorted(set(a) | set(b)):
        was: Any = a.get(key)
        now: Any = b.get(key)
        if was == now:
            continue
        if key == "rules":
            out += _rules(was, now)
        elif key == "principals":
            out += _named("principal", was, now, _PRINCIPAL)
        elif key == "reviewers":
            out += _named("reviewer", was, now, _REVIEWER)
        elif key == "use_cases":
            out += _named("use case", was, now, _USE_CASE)
        elif key == "connectors":
            default = ConnectorConfig().model_dump(mode="json")
            out += _named("connector", was, now, _CONNECTOR, absent=default)
        elif key == "approvals":
            default = ApprovalPolicy().model_dump(mode="json")
            out += _named("approval policy", was, now, _APPROVAL_POLICY, absent=default)
        elif key == "pii":
            out += _pii(was, now)
        elif key == "manifest_changes":
            default = ManifestChanges().model_dump(mode="json")
            out += _fields("manifest_changes", was or default, now or default, _CHANGES)
        else:  # version, notifications, and anything a later mopsgate adds
            out.append(f"changed {key}")
    return out


_CHANGES: dict[str, NoWider] = {"approvals": _at_least(1)}


def _credentials_only(widens: tuple[str, ...] | list[str]) -> bool:
    return all(w.startswith("reviewer ") and w.endswith((": keys", ": passkeys")) for w in widens)


def first_keys(old: Manifest, widens: tuple[str, ...] | list[str]) -> bool:
    """Whether this widening only declares the first reviewer keys: while no reviewer of
    ``old`` has a key or passkey nobody can approve anything, so without this the change
    process could never start. Any other widening in the same edit still needs approval —
    by the reviewers this edit gives keys, once it is in force."""
    if any(r.keys or r.passkeys for r in old.reviewers.values()):
        return False
    return _credentials_only(widens)


def _sandbox_only(manifest: Manifest) -> bool:
    return all(c.environment == "sandbox" for c in manifest.connectors.values())


def unapproved_ok(old: Manifest, new: Manifest, widens: tuple[str, ...] | list[str]) -> str:
    """Why this widening may apply without approval, or "" when it may not: it only declares
    reviewer credentials, and either nobody has one yet (``first_keys``) or both versions
    reach sandboxes only, where `reviewer enrol` declares a newcomer's own credential by design
    (``server/manifest_edit.py``). Switching a connector to production is itself a widening."""
    if not widens or not _credentials_only(widens):
        return ""
    if first_keys(old, widens):
        return "first reviewer keys: no reviewer of the version in force had one"
    if _sandbox_only(old) and _sandbox_only(new):
        return "reviewer credentials on a manifest that reaches sandboxes only"
    return ""
