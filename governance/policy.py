"""Policy decisions: may this principal use this tool here, on which fields, with what approvals.

Decisions are made against a compiled view of the manifest (rules indexed per principal, results
memoised) that is built once per loaded manifest, because ``decide`` runs on every tool call.

Semantics, in one place:
- Default deny. An explicit deny rule wins whatever the rule order; when several rules apply,
  the one with the smallest id is reported, so decisions never depend on the order of the file.
- A wildcard in ``tools`` never matches ``send`` or ``delete`` tools: those must be named.
- A read tool needs mode ``read`` for class ``read``; a write tool needs mode ``propose`` for
  its class. Modes a rule does not set come from ``DEFAULT_MODES``.
- Connectorless tools: read-class ones (whoami, my_permissions, get_change, list_my_changes,
  cancel_change) only ever show or touch the caller's own things and are allowed to every known
  principal; write-class ones (apply_change, propose_revert, propose_finish) are allowed when
  the principal may propose in at least one class or a rule grants them. An explicit deny still
  wins.
- ``connector=None`` / ``obj=None`` for a connector tool means "anywhere": allowed when allowed
  on at least one concrete connector/object. Pass ``obj`` whenever the object is known.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from functools import partial

from mopsgate.governance.cadence import RULE_ID as REVIEW_OVERDUE
from mopsgate.governance.cadence import cadence_refusal, utc_today
from mopsgate.governance.manifest_model import WILDCARD, AllowRule, Manifest, RateLimit
from mopsgate.governance.policy_core import (
    DEFAULT_RATE_LIMIT,
    Compiled,
    Decision,
    compiled,
    connectors_of,
    grants,
    mode_of,
    reaches,
    scope_match,
    tool_match,
)
from mopsgate.governance.policy_views import (
    ApprovalRequirement,
    ExplainRow,
    FieldAccess,
    approval_requirement,
    explain_rows,
    field_access,
    record_cap,
)
from mopsgate.governance.risk import WRITE_CLASSES, RiskClass

AMBIGUOUS = "ambiguous-use-case"
UNKNOWN_USE_CASE = "unknown-use-case"
SELF_SERVICE = "self-service"

__all__ = [
    "AMBIGUOUS",
    "ApprovalRequirement",
    "Decision",
    "ExplainRow",
    "FieldAccess",
    "approval_requirement",
    "approvals_satisfied",
    "decide",
    "explain",
    "field_access",
    "permitted_objects",
    "rate_limit",
    "record_cap",
    "reviewer_may_approve",
    "visible_tools",
]


def decide(
    manifest: Manifest,
    principal: str,
    tool: str,
    connector: str | None = None,
    obj: str | None = None,
    *,
    use_case: str | None = None,
    today: dt.date | None = None,
) -> Decision:
    """Whether ``principal`` may use ``tool`` here, under which rule and use case.

    ``use_case`` is the one the call names (optional); a principal bound to several use cases
    whose rules all allow the call must name one, or the call is refused with the candidates.
    ``today`` (default: the UTC date now) decides whether an overdue review stops the call."""
    base = _decide(manifest, principal, tool, connector, obj, use_case)
    if not base.allowed or base.rule_id == SELF_SERVICE:
        # Self-service (whoami, get_change, cancel_change…) stays: it is how the assistant
        # learns why it is refused, and cancelling is always safe.
        return base
    refusal = _cadence_refusal(manifest, base.use_case, tool, today or utc_today())
    if refusal is None:
        return base
    return Decision(False, REVIEW_OVERDUE, refusal, base.use_case)


def _cadence_refusal(
    manifest: Manifest, use_case: str | None, tool: str, today: dt.date
) -> str | None:
    """``cadence_refusal``, a pure function of the manifest, the use case, the tool and the
    day, answered once per day for each use case and tool (``decide`` runs on every call)."""
    views = compiled(manifest).views
    key = ("cadence", use_case, tool)
    hit = views.get(key)
    if isinstance(hit, tuple) and hit[0] == today:
        known: str | None = hit[1]
        return known
    refusal = cadence_refusal(manifest, use_case, tool, today)
    views[key] = (today, refusal)
    return refusal


def permitted_objects(
    manifest: Manifest,
    principal: str,
    tool: str,
    connector: str,
    objects: Sequence[str],
    *,
    use_case: str | None,
) -> tuple[tuple[str, ...], Decision | None]:
    """Which of ``objects`` the rules let an admitted call of ``tool`` touch: a filter that
    shapes a result, not a second admission (the pipeline's one ``decide`` admitted the call).

    For a tool that ranges over a connector's person objects when none is named (Salesforce
    Leads and Contacts): the objects it may read, under the use case the call was admitted
    under, and, when there are none, the rule's refusal of the first."""
    found = [(o, _decide(manifest, principal, tool, connector, o, use_case)) for o in objects]
    allowed = tuple(o for o, d in found if d.allowed)
    return allowed, (None if allowed or not found else found[0][1])


def _decide(
    manifest: Manifest,
    principal: str,
    tool: str,
    connector: str | None,
    obj: str | None,
    use_case: str | None,
) -> Decision:
    comp = compiled(manifest)
    key = (principal, tool, connector, obj, use_case)
    hit = comp.cache.get(key)
    if hit is not None:
        return hit
    cat = manifest.catalogue
    if principal not in manifest.principals:
        return Decision(
            False,
            "unknown-principal",
            f"principal {principal!r} is not in the manifest; ask the manifest owner to add "
            f"[principals.{principal}] to permissions.toml",
        )
    risk = cat.tools.get(tool)
    if risk is None:
        return Decision(False, "unknown-tool", f"there is no tool {tool!r}")
    mine = manifest.principals[principal].use_cases
    if use_case is not None and use_case not in mine:
        return Decision(
            False,
            UNKNOWN_USE_CASE,
            f"use case {use_case!r} is not one of yours; name one of: "
            f"{', '.join(mine) or 'none'} (or leave use_case out)",
        )
    if tool in cat.connectorless_tools:
        result = _decide_connectorless(comp, principal, tool, risk, use_case)
    else:
        if connector is not None and connector not in connectors_of(manifest):
            return Decision(False, "unknown-connector", f"there is no connector {connector!r}")
        objects = cat.objects.get(connector or "", {})
        if obj is not None and objects and obj not in objects:
            known = ", ".join(sorted(objects))
            return Decision(
                False, "unknown-object", f"{connector} has no object {obj!r} (objects: {known})"
            )
        result = _decide_anywhere(comp, principal, tool, risk, connector, obj, use_case)
    comp.cache[key] = result
    return result


def _decide_anywhere(
    comp: Compiled,
    p: str,
    tool: str,
    risk: RiskClass,
    connector: str | None,
    obj: str | None,
    use_case: str | None,
) -> Decision:
    cat = comp.manifest.catalogue
    found: list[Decision] = []
    for c in (connector,) if connector else connectors_of(comp.manifest):
        objs: Sequence[str | None] = (obj,) if obj else (sorted(cat.objects.get(c, {})) or [None])
        for o in objs:
            d = _decide_concrete(comp, p, tool, risk, c, o, use_case, named=obj is not None)
            if d.allowed:
                return d
            found.append(d)
    ambiguous = [d for d in found if d.rule_id == AMBIGUOUS]
    explicit = [d for d in found if d.rule_id != "default-deny"]
    return (ambiguous or explicit or found)[0]


def _where(connector: str | None, obj: str | None) -> str:
    if connector is None:
        return ""
    return f" on {connector}" + (f" {obj}" if obj else "")


def _denied(
    comp: Compiled, p: str, tool: str, risk: RiskClass, c: str | None, o: str | None, where: str
) -> Decision | None:
    """The first (by id) deny rule that withholds the whole tool here, whatever the rule order."""
    for deny in comp.deny[p]:
        if deny.fields or not tool_match(deny.tools, tool, risk):
            continue
        if scope_match(deny, tool, c, o, deny=True):
            why = deny.reason or "denied by the manifest"
            return Decision(
                False,
                deny.id,
                f"{why} (rule {deny.id!r} denies {tool}{where}); if you need it, ask the "
                f"manifest owner to review rule {deny.id!r}",
            )
    return None


def _decide_concrete(
    comp: Compiled,
    p: str,
    tool: str,
    risk: RiskClass,
    c: str | None,
    o: str | None,
    use_case: str | None,
    *,
    named: bool = True,
) -> Decision:
    """One concrete place. ``named`` is False when the caller gave no object, so the reason
    does not mention one the caller never asked about."""
    where = _where(c, o if named else None)
    denied = _denied(comp, p, tool, risk, c, o, where)
    if denied is not None:
        return denied
    matching = [
        r
        for r in comp.allow[p]
        if tool_match(r.tools, tool, risk) and scope_match(r, tool, c, o, deny=False)
    ]
    if (refused := _wildcard_delete(comp, tool, risk, c, matching, where)) is not None:
        return refused
    granting = [r for r in matching if grants(r, risk)]
    chosen = _one_use_case(granting, use_case, f"{tool}{where}")
    if isinstance(chosen, Decision):
        return chosen
    if chosen is not None:
        how = " as a proposal for human review" if risk in WRITE_CLASSES else ""
        return Decision(
            True,
            chosen.id,
            f"rule {chosen.id!r} (use case {chosen.use_case!r}) allows {tool}{where}{how}",
            chosen.use_case,
        )
    if matching:
        rule = matching[0]
        want = "read" if risk is RiskClass.READ else "propose"
        return Decision(
            False,
            rule.id,
            f"rule {rule.id!r} covers {tool}{where} but its mode for {risk} is "
            f"{mode_of(rule, risk)!r}; ask the manifest owner to set modes.{risk} = "
            f'"{want}" in rule {rule.id!r}',
            rule.use_case,
        )
    return Decision(
        False,
        "default-deny",
        f"no rule allows principal {p!r} to use {tool}{where} (default deny); ask the manifest "
        "owner to grant it with an allow rule in permissions.toml",
    )


def _wildcard_delete(
    comp: Compiled,
    tool: str,
    risk: RiskClass,
    connector: str | None,
    matching: Sequence[AllowRule],
    where: str,
) -> Decision | None:
    """The refusal when every rule covering a delete (or merge) reaches this production
    connector only through a connector wildcard (``policy_core.reaches``)."""
    if connector is None or not matching:
        return None
    if any(reaches(r, risk, connector, comp.manifest) for r in matching):
        return None
    rule = matching[0]
    return Decision(
        False,
        rule.id,
        f"rule {rule.id!r} reaches {connector} only through connectors = ['*'], and {tool}"
        f"{where} deletes records on a production connector: that needs a rule naming "
        f"{connector!r} explicitly; ask the manifest owner",
        rule.use_case,
    )


def _one_use_case(
    granting: Sequence[AllowRule], use_case: str | None, what: str
) -> AllowRule | Decision | None:
    """The rule (smallest id) that decides among ``granting``, restricted to the named use
    case; a refusal when the use case is ambiguous or grants nothing here; None if nothing
    grants it at all."""
    if not granting:
        return None
    if use_case is not None:
        own = [r for r in granting if r.use_case == use_case]
        if own:
            return own[0]
        others = sorted({str(r.use_case) for r in granting})
        return Decision(
            False,
            granting[0].id,
            f"use case {use_case!r} does not allow {what}; it is allowed under use case "
            f"{', '.join(repr(u) for u in others)}: call again naming that use case if the "
            "call serves it",
            use_case,
        )
    cases = sorted({str(r.use_case) for r in granting})
    if len(cases) > 1:
        return Decision(
            False,
            AMBIGUOUS,
            f"{what} is allowed to you under several use cases ({', '.join(cases)}); call "
            "again with the use_case argument naming the one this call serves",
            None,
            tuple(cases),
        )
    return granting[0]


def _decide_connectorless(
    comp: Compiled, p: str, tool: str, risk: RiskClass, use_case: str | None
) -> Decision:
    denied = _denied(comp, p, tool, risk, None, None, "")
    if denied is not None:
        return denied
    mine = comp.manifest.principals[p].use_cases
    if risk is RiskClass.READ:
        only = use_case or (mine[0] if len(mine) == 1 else None)
        return Decision(
            True,
            SELF_SERVICE,
            f"{tool} only shows or touches your own identity and changes",
            only,
        )
    granting = [
        rule
        for rule in comp.allow[p]
        if tool_match(rule.tools, tool, risk) and scope_match(rule, tool, None, None, deny=False)
    ]
    if granting:
        chosen = _rule_of(granting, use_case)
        if chosen is not None:
            return Decision(True, chosen.id, f"rule {chosen.id!r} allows {tool}", chosen.use_case)
    proposer = _rule_of(comp.proposer[p], use_case)
    if proposer is not None:
        return Decision(
            True,
            proposer.id,
            f"{tool} follows from rule {proposer.id!r}, which lets you propose changes; each "
            "change is still checked against its own class and approvals",
            proposer.use_case if len({r.use_case for r in comp.proposer[p]}) == 1 else use_case,
        )
    return Decision(
        False,
        "default-deny",
        f"principal {p!r} may not propose any change"
        + (f" under use case {use_case!r}" if use_case else "")
        + f", so {tool} is not available; ask the manifest owner for a rule with a propose mode",
    )


def _rule_of(rules: Sequence[AllowRule], use_case: str | None) -> AllowRule | None:
    """The first rule (by id) of the named use case, or of any when none is named. A change
    tool (apply, revert, finish) acts on a stored change, whose own use case governs it."""
    return next((r for r in rules if use_case is None or r.use_case == use_case), None)


def visible_tools(manifest: Manifest, principal: str) -> frozenset[str]:
    """Tools worth listing to the client: allowed somewhere (under at least one use case).
    Hidden tools are simply absent. An overdue review does not hide tools: a call says why it
    is refused, which a missing tool could not."""
    comp = compiled(manifest)
    key = ("visible", principal)
    hit = comp.views.get(key)
    if isinstance(hit, frozenset):
        return hit
    decided = {
        t: _decide(manifest, principal, t, None, None, None) for t in manifest.catalogue.tools
    }
    out = frozenset(t for t, d in decided.items() if d.allowed or d.rule_id == AMBIGUOUS)
    if principal in manifest.principals:
        comp.views[key] = out
    return out


def rate_limit(manifest: Manifest, principal: str) -> RateLimit:
    """Explicit limits are used as written; the defaults halve when the principal can reach a
    production connector, because mistakes there cost real records."""
    p = manifest.principals.get(principal)
    if p is not None and p.rate_limit is not None:
        return p.rate_limit
    comp = compiled(manifest)
    for rule in comp.allow.get(principal, ()):
        for c in connectors_of(manifest):
            reaches = WILDCARD in rule.connectors or c in rule.connectors
            if reaches and manifest.environment(c) == "production":
                return RateLimit(
                    calls_per_minute=DEFAULT_RATE_LIMIT.calls_per_minute // 2,
                    records_per_hour=DEFAULT_RATE_LIMIT.records_per_hour // 2,
                )
    return DEFAULT_RATE_LIMIT


def reviewer_may_approve(manifest: Manifest, reviewer: str, risk: RiskClass) -> Decision:
    rv = manifest.reviewers.get(reviewer)
    if rv is None:
        return Decision(
            False,
            "unknown-reviewer",
            f"{reviewer!r} is not a reviewer; ask the manifest owner to add "
            f"[reviewers.{reviewer}] to permissions.toml",
        )
    if risk not in rv.risk_classes:
        held = ", ".join(rv.risk_classes) or "none"
        return Decision(
            False,
            f"reviewers.{reviewer}",
            f"reviewer {reviewer!r} may not approve {risk} changes (risk_classes: {held}); "
            "ask another reviewer or the manifest owner",
        )
    pol = manifest.approvals.get(risk)
    if pol is not None and pol.reviewers and reviewer not in pol.reviewers:
        return Decision(
            False,
            f"approvals.{risk}",
            f"only {', '.join(pol.reviewers)} may approve {risk} changes ([approvals.{risk}])",
        )
    return Decision(True, f"reviewers.{reviewer}", f"{reviewer!r} may approve {risk} changes")


def approvals_satisfied(
    manifest: Manifest, risk: RiskClass, requirement: ApprovalRequirement, approvers: Sequence[str]
) -> Decision:
    """N-of-M with roles: N distinct eligible reviewers, every required role held by one."""
    eligible = sorted({a for a in approvers if reviewer_may_approve(manifest, a, risk).allowed})
    if len(eligible) < requirement.count:
        return Decision(
            False,
            requirement.rule_id,
            f"{len(eligible)} of {requirement.count} required approvals so far",
        )
    held = {role for a in eligible for role in manifest.reviewers[a].roles}
    missing = sorted(requirement.roles - held)
    if missing:
        return Decision(
            False,
            requirement.rule_id,
            f"an approver holding role {', '.join(missing)} is still required",
        )
    return Decision(True, requirement.rule_id, f"approved by {', '.join(eligible)}")


def explain(
    manifest: Manifest, principal: str, *, today: dt.date | None = None
) -> list[ExplainRow]:
    """Effective rights as rows: everything allowed, plus what an explicit rule, an overdue
    review or an ambiguous use case stops (as of ``today``, default the UTC date now)."""
    day = today or utc_today()
    return explain_rows(
        manifest, principal, partial(decide, today=day), shown={REVIEW_OVERDUE, AMBIGUOUS}
    )
