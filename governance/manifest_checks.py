"""Checks a schema-valid manifest against the catalogue, its own cross-references and the floor.

The schema alone cannot catch the mistakes that matter most: a tool name with a typo (which
would silently grant nothing), a rule that both shows and hides a field, or an attempt to lower
the compliance floor. Each check reports through ``add(loc, message, needle)`` so the loader can
point at the line.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from itertools import product

from mopsgate.governance.catalogue import CONNECTORS, Catalogue
from mopsgate.governance.manifest_model import WILDCARD, AllowRule, DenyRule, Manifest, UseCase
from mopsgate.governance.notify_checks import check_notifications
from mopsgate.governance.policy import approval_requirement, record_cap, reviewer_may_approve
from mopsgate.governance.reviewer_checks import check_reviewers
from mopsgate.governance.risk import (
    DEFAULT_MODES,
    FLOOR_MIN_APPROVALS,
    FLOOR_REQUIRED_ROLES,
    WRITE_CLASSES,
    Mode,
    RiskClass,
)
from mopsgate.governance.send_lists import check_declarations

Loc = tuple[str | int, ...]
Add = Callable[[Loc, str, str | None], None]
FLOOR_HINT = "the compliance floor cannot be lowered"
CONSENT_MSG = "consent changes go through propose_opt_out only; re-subscribing is never possible"


def suggest(name: str, options: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(options), n=3, cutoff=0.6)
    return f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""


def _connectors(cat: Catalogue) -> tuple[str, ...]:
    return tuple(cat.objects) or CONNECTORS


def _floor_msg(where: str, n: int, risk: RiskClass) -> str:
    floor = FLOOR_MIN_APPROVALS[risk]
    return (
        f"{where} = {n} is below the compliance floor of {floor} approval(s) for {risk}; "
        f"{FLOOR_HINT}"
    )


def run_checks(m: Manifest, cat: Catalogue, add: Add) -> None:
    known = set(_connectors(cat))
    for name in m.connectors:
        if name not in known:
            add(("connectors", name), f"unknown connector {name!r}{suggest(name, known)}", None)
    check_declarations(m, cat, add)
    _check_evidence_fields(m, cat, add)
    for conn, names in m.pii.items():
        if conn not in known:
            add(("pii", conn), f"pii: unknown connector {conn!r}{suggest(conn, known)}", None)
            continue
        fields = cat.fields_of(conn)
        for f in names:
            if fields and f not in fields:
                add(("pii", conn), f"pii.{conn}: unknown field {f!r}{suggest(f, fields)}", f)
    for name, uc in m.use_cases.items():
        _check_owners(name, uc, add)
    for name, p in m.principals.items():
        if not p.use_cases:
            add(("principals", name, "use_cases"), f"principal {name!r} has no use case", None)
        for uc_name in p.use_cases:
            if uc_name not in m.use_cases:
                add(
                    ("principals", name, "use_cases"),
                    f"principal {name!r} names unknown use "
                    f"case {uc_name!r}{suggest(uc_name, m.use_cases)}",
                    uc_name,
                )
    _check_approvals(m, add)
    check_reviewers(m, add)
    check_notifications(m, add)
    ids: dict[str, int] = {}
    for i, rule in enumerate(m.rules):
        if rule.id in ids:
            add(
                ("rules", i, "id"),
                f"duplicate rule id {rule.id!r} (also rules[{ids[rule.id]}])",
                None,
            )
        ids.setdefault(rule.id, i)
        _check_rule(m, cat, i, rule, add)
    _check_conflicts(m, cat, add)


def _check_evidence_fields(m: Manifest, cat: Catalogue, add: Add) -> None:
    """The consent-evidence field must exist on every person object of its connector: a field
    that is never there would block everyone in an express-consent country, silently."""
    for name, cfg in m.connectors.items():
        field = cfg.consent_evidence_field
        for obj in cat.person_objects.get(name, ()):
            fields = cat.objects.get(name, {}).get(obj)
            if field is not None and fields is not None and field not in fields.fields:
                add(
                    ("connectors", name, "consent_evidence_field"),
                    f"connectors.{name}.consent_evidence_field: {obj} has no field {field!r}"
                    f"{suggest(field, fields.fields)}",
                    field,
                )


OWNER_ROLES = {
    "business": "who wants the outcome",
    "technical": "who runs the integration",
    "data": "who answers for the records",
    "risk": "who answers for this use of AI",
    "escalation": "who is told when something goes wrong",
}


def _check_owners(name: str, uc: UseCase, add: Add) -> None:
    """Every use case names its risk owner; one of medium or high risk names all four owners
    and the escalation contact, because a risk review asks who answers for each of them and an
    overdue review must have someone to tell."""
    loc: Loc = ("use_cases", name, "owners")
    if uc.risk_level == "low":
        if not uc.owners.risk.strip():
            add(
                loc,
                f"use case {name!r} has no risk owner "
                "(set owners.risk: who answers for this use of AI)",
                None,
            )
        return
    missing = [k for k in OWNER_ROLES if not getattr(uc.owners, k).strip()]
    if missing:
        what = "; ".join(f"owners.{k} ({OWNER_ROLES[k]})" for k in missing)
        add(
            loc,
            f"use case {name!r} has risk_level {uc.risk_level!r}, so it must name all four "
            f"owners and an escalation contact; missing: {what}",
            None,
        )


def _check_approvals(m: Manifest, add: Add) -> None:
    held = {role for r in m.reviewers.values() for role in r.roles}
    for risk, pol in m.approvals.items():
        loc: Loc = ("approvals", str(risk))
        if risk not in WRITE_CLASSES:
            add(loc, f"approvals.{risk}: reads need no approval", None)
            continue
        if pol.count is not None and pol.count < FLOOR_MIN_APPROVALS[risk]:
            add((*loc, "count"), _floor_msg(f"approvals.{risk}.count", pol.count, risk), None)
        for role in sorted(FLOOR_REQUIRED_ROLES.get(risk, frozenset()) - set(pol.roles)):
            add(
                (*loc, "roles"), f"approvals.{risk}.roles must include {role!r}: {FLOOR_HINT}", None
            )
        for role in pol.roles:
            if role not in held:
                add(
                    (*loc, "roles"),
                    f"approvals.{risk}.roles: no reviewer holds role {role!r}",
                    role,
                )
        for name in pol.reviewers:
            if name not in m.reviewers:
                add(
                    (*loc, "reviewers"),
                    f"approvals.{risk}.reviewers: unknown reviewer "
                    f"{name!r}{suggest(name, m.reviewers)}",
                    name,
                )
        if "extra" in pol.model_fields_set and pol.records_over is None:
            add((*loc, "extra"), f"approvals.{risk}.extra needs records_over", None)


def _scope_objects(cat: Catalogue, rule: AllowRule | DenyRule) -> list[tuple[str, str]]:
    conns = _connectors(cat) if WILDCARD in rule.connectors else rule.connectors
    return [
        (c, o)
        for c in conns
        for o in cat.objects.get(c, {})
        if WILDCARD in rule.objects or o in rule.objects
    ]


def _check_rule(m: Manifest, cat: Catalogue, i: int, rule: AllowRule | DenyRule, add: Add) -> None:
    at = f"rule {rule.id!r}"

    def bad(key: str, message: str, needle: str | None = None) -> None:
        add(("rules", i, key), f"{at}: {message}", needle)

    for key in ("principals", "tools"):
        if not getattr(rule, key):
            bad(key, f'{key} is empty; name at least one (or "*")')
    for p in rule.principals:
        if p != WILDCARD and p not in m.principals:
            bad("principals", f"unknown principal {p!r}{suggest(p, m.principals)}", p)
    for t in rule.tools:
        if t != WILDCARD and t not in cat.tools:
            bad("tools", f"unknown tool {t!r}{suggest(t, cat.tools)}", t)
    known = _connectors(cat)
    for c in rule.connectors:
        if c != WILDCARD and c not in known:
            bad("connectors", f"unknown connector {c!r}{suggest(c, known)}", c)
    conns = known if WILDCARD in rule.connectors else [c for c in rule.connectors if c in known]
    objects = {o for c in conns for o in cat.objects.get(c, {})}
    for o in rule.objects:
        if o != WILDCARD and objects and o not in objects:
            bad("objects", f"unknown object {o!r} on {', '.join(conns)}{suggest(o, objects)}", o)
    scope = _scope_objects(cat, rule)
    fields = {f for c, o in scope for f in cat.objects[c][o].fields}
    keys = (
        ("read_fields", "deny_fields", "write_fields")
        if isinstance(rule, AllowRule)
        else ("fields",)
    )
    for key in keys:
        for f in getattr(rule, key):
            if f != WILDCARD and fields and f not in fields:
                bad(
                    key,
                    f"unknown field {f!r} on {', '.join(sorted({c for c, _ in scope}))}"
                    f"{suggest(f, fields)}",
                    f,
                )
    if isinstance(rule, DenyRule):
        if not rule.reason.strip():
            bad("reason", "deny rules need a reason (it is shown to the assistant and the user)")
        return
    _check_allow(m, cat, rule, scope, bad)


def _check_allow(
    m: Manifest,
    cat: Catalogue,
    rule: AllowRule,
    scope: list[tuple[str, str]],
    bad: Callable[..., None],
) -> None:
    _check_purpose(m, rule, bad)
    _check_fields(cat, rule, scope, bad)
    _check_modes(m, cat, rule, bad)


def _check_purpose(m: Manifest, rule: AllowRule, bad: Callable[..., None]) -> None:
    if rule.use_case is None:
        bad("effect", "allow rules need a use_case (the purpose this grant serves)")
    elif rule.use_case not in m.use_cases:
        bad("use_case", f"unknown use case {rule.use_case!r}{suggest(rule.use_case, m.use_cases)}")
    else:
        for p in rule.principals:
            if p in m.principals and rule.use_case not in m.principals[p].use_cases:
                bad(
                    "use_case",
                    f"grants use case {rule.use_case!r} to principal {p!r}, whose "
                    "use_cases do not include it",
                )


def _check_fields(
    cat: Catalogue, rule: AllowRule, scope: list[tuple[str, str]], bad: Callable[..., None]
) -> None:
    deny = set(rule.deny_fields)
    for f in sorted(set(rule.read_fields) & deny):
        bad("deny_fields", f"field {f!r} is both in read_fields and deny_fields", f)
    for f in rule.write_fields:
        if f == WILDCARD:
            bad("write_fields", 'write_fields must name fields explicitly, not "*"')
        elif f in deny:
            bad("write_fields", f"field {f!r} is in write_fields but also in deny_fields", f)
        elif any(f in cat.objects[c][o].consent for c, o in scope):
            bad("write_fields", f"field {f!r} is a consent field: {CONSENT_MSG}", f)
        elif any(f in cat.objects[c][o].read_only for c, o in scope):
            bad("write_fields", f"field {f!r} is read-only and cannot be written", f)


def _check_modes(m: Manifest, cat: Catalogue, rule: AllowRule, bad: Callable[..., None]) -> None:
    if rule.modes.get(RiskClass.READ) is Mode.PROPOSE:
        bad("modes", 'modes.read can only be "read" or "deny"')
    writes = {rule.modes.get(r) for r in (RiskClass.UPDATE_FIELDS, RiskClass.LIFECYCLE)}
    if rule.write_fields and Mode.PROPOSE not in writes:
        bad("write_fields", 'write_fields needs modes.update_fields (or lifecycle) = "propose"')
    for t in rule.tools:
        risk = cat.tools.get(t)
        named_write = risk in WRITE_CLASSES and t not in cat.connectorless_tools
        if named_write and risk is not None and rule.modes.get(risk) is not Mode.PROPOSE:
            bad(
                "modes",
                f'names tool {t!r} but modes.{risk} is not "propose" '
                f'(add {risk} = "propose" to modes, or drop the tool)',
            )
    for risk, n in rule.approvals.items():
        if risk not in WRITE_CLASSES:
            bad("approvals", "approvals.read: reads need no approval")
        elif n < FLOOR_MIN_APPROVALS[risk]:
            bad("approvals", _floor_msg(f"approvals.{risk}", n, risk))
    uc = m.use_cases.get(rule.use_case or "")
    if rule.pii == "unmasked" and uc is not None and uc.risk_level == "low":
        for c in rule.connectors:
            if m.environment(c) == "production":
                bad(
                    "pii",
                    f"unmasks PII on production connector {c!r} but use case "
                    f'{rule.use_case!r} has risk_level "low"; unmasked production PII needs a '
                    "medium or high risk use case",
                )


def _check_conflicts(m: Manifest, cat: Catalogue, add: Add) -> None:
    """Two allow rules covering the same principal, tool and place must agree on PII masking and
    on the mode of the tool's class; otherwise which one applies would be a guess."""
    seen: dict[tuple[str, str, str, str], tuple[AllowRule, str, str]] = {}
    reported: set[tuple[str, str, str]] = set()
    for i, rule in enumerate(m.rules):
        if not isinstance(rule, AllowRule):
            continue
        principals = list(m.principals) if WILDCARD in rule.principals else rule.principals
        tools = [
            t
            for t in cat.tools
            if t not in cat.connectorless_tools
            and (
                t in rule.tools
                or (
                    WILDCARD in rule.tools
                    and cat.tools[t] not in {RiskClass.SEND, RiskClass.DELETE}
                )
            )
        ]
        for p, t, (c, o) in product(principals, tools, _scope_objects(cat, rule)):
            risk = cat.tools[t]
            mode = str(rule.modes.get(risk, DEFAULT_MODES[risk]))
            prior = seen.setdefault((p, t, c, o), (rule, rule.pii, mode))
            other = prior[0]
            if other is rule:
                continue
            what = "pii" if prior[1] != rule.pii else ("mode" if prior[2] != mode else "")
            if what and (other.id, rule.id, what) not in reported:
                reported.add((other.id, rule.id, what))
                detail = (
                    f"pii ({prior[1]!r} vs {rule.pii!r})"
                    if what == "pii"
                    else (f"modes.{risk} ({prior[2]!r} vs {mode!r})")
                )
                add(
                    ("rules", i, "pii" if what == "pii" else "modes"),
                    f"rules {other.id!r} and {rule.id!r} both allow {p!r} to use {t} on {c} "
                    f"{o} but disagree on {detail}",
                    None,
                )
    _check_field_denies(m, cat, add)


def _check_field_denies(m: Manifest, cat: Catalogue, add: Add) -> None:
    """A field withheld by a deny rule cannot also be writable for the same principal."""
    for i, rule in enumerate(m.rules):
        if not isinstance(rule, AllowRule) or not rule.write_fields:
            continue
        for deny in m.rules:
            if not isinstance(deny, DenyRule) or not deny.fields:
                continue
            who = (
                WILDCARD in deny.principals
                or WILDCARD in rule.principals
                or bool(set(deny.principals) & set(rule.principals))
            )
            where = set(_scope_objects(cat, deny)) & set(_scope_objects(cat, rule))
            for f in sorted(set(rule.write_fields) & set(deny.fields)):
                if who and where:
                    add(
                        ("rules", i, "write_fields"),
                        f"rule {rule.id!r}: field {f!r} is in "
                        f"write_fields but deny rule {deny.id!r} withholds it",
                        f,
                    )


def check_reviewer_capacity(m: Manifest, add: Add) -> None:
    """A class someone may propose but too few reviewers may approve would leave every such
    change pending forever; say so now rather than at the first send."""
    seen: set[str] = set()
    for p, c, risk in product(m.principals, _connectors(m.catalogue), sorted(WRITE_CLASSES)):
        if record_cap(m, p, c, risk) == 0:
            continue
        req = approval_requirement(m, p, c, risk, 1)
        eligible = sorted(r for r in m.reviewers if reviewer_may_approve(m, r, risk).allowed)
        roles = {role for r in eligible for role in m.reviewers[r].roles}
        message = ""
        if len(eligible) < req.count:
            message = (
                f"{risk} changes on {c} need {req.count} approvals but only {len(eligible)} "
                f"reviewer(s) may approve {risk}; add reviewers or extend their risk_classes"
            )
        elif req.roles - roles:
            message = (
                f"{risk} changes on {c} need an approver with role "
                f"{', '.join(sorted(req.roles - roles))}, but no such reviewer may approve {risk}"
            )
        if message and message not in seen:
            seen.add(message)
            add(("approvals", str(risk)) if risk in m.approvals else ("reviewers",), message, None)
