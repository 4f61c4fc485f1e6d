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

from collections.abc import Sequence

from mopsgate.governance.manifest_model import WILDCARD, Manifest, RateLimit
from mopsgate.governance.policy_core import (
    DEFAULT_RATE_LIMIT,
    Compiled,
    Decision,
    compiled,
    connectors_of,
    grants,
    mode_of,
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

__all__ = [
    "ApprovalRequirement",
    "Decision",
    "ExplainRow",
    "FieldAccess",
    "approval_requirement",
    "approvals_satisfied",
    "decide",
    "explain",
    "field_access",
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
) -> Decision:
    comp = compiled(manifest)
    key = (principal, tool, connector, obj)
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
    if tool in cat.connectorless_tools:
        result = _decide_connectorless(comp, principal, tool, risk)
    else:
        if connector is not None and connector not in connectors_of(manifest):
            return Decision(False, "unknown-connector", f"there is no connector {connector!r}")
        objects = cat.objects.get(connector or "", {})
        if obj is not None and objects and obj not in objects:
            known = ", ".join(sorted(objects))
            return Decision(
                False, "unknown-object", f"{connector} has no object {obj!r} (objects: {known})"
            )
        result = _decide_anywhere(comp, principal, tool, risk, connector, obj)
    comp.cache[key] = result
    return result


def _decide_anywhere(
    comp: Compiled, p: str, tool: str, risk: RiskClass, connector: str | None, obj: str | None
) -> Decision:
    cat = comp.manifest.catalogue
    found: list[Decision] = []
    for c in (connector,) if connector else connectors_of(comp.manifest):
        objs: Sequence[str | None] = (obj,) if obj else (sorted(cat.objects.get(c, {})) or [None])
        for o in objs:
            d = _decide_concrete(comp, p, tool, risk, c, o, named=obj is not None)
            if d.allowed:
                return d
            found.append(d)
    explicit = [d for d in found if d.rule_id != "default-deny"]
    return (explicit or found)[0]


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
    for rule in matching:
        if grants(rule, risk):
            how = " as a proposal for human review" if risk in WRITE_CLASSES else ""
            return Decision(
                True,
                rule.id,
                f"rule {rule.id!r} (use case {rule.use_case!r}) allows {tool}{where}{how}",
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
        )
    return Decision(
        False,
        "default-deny",
        f"no rule allows principal {p!r} to use {tool}{where} (default deny); ask the manifest "
        "owner to grant it with an allow rule in permissions.toml",
    )


def _decide_connectorless(comp: Compiled, p: str, tool: str, risk: RiskClass) -> Decision:
    denied = _denied(comp, p, tool, risk, None, None, "")
    if denied is not None:
        return denied
    if risk is RiskClass.READ:
        return Decision(
            True, "self-service", f"{tool} only shows or touches your own identity and changes"
        )
    for rule in comp.allow[p]:
        if tool_match(rule.tools, tool, risk) and scope_match(rule, tool, None, None, deny=False):
            return Decision(True, rule.id, f"rule {rule.id!r} allows {tool}")
    proposer = comp.proposer[p]
    if proposer is not None:
        return Decision(
            True,
            proposer,
            f"{tool} follows from rule {proposer!r}, which lets you propose changes; each "
            "change is still checked against its own class and approvals",
        )
    return Decision(
        False,
        "default-deny",
        f"principal {p!r} may not propose any change, so {tool} is not available; ask the "
        "manifest owner for a rule with a propose mode",
    )


def visible_tools(manifest: Manifest, principal: str) -> frozenset[str]:
    """Tools worth listing to the client: allowed somewhere. Hidden tools are simply absent."""
    comp = compiled(manifest)
    key = ("visible", principal)
    hit = comp.views.get(key)
    if isinstance(hit, frozenset):
        return hit
    out = frozenset(t for t in manifest.catalogue.tools if decide(manifest, principal, t).allowed)
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


def explain(manifest: Manifest, principal: str) -> list[ExplainRow]:
    """Effective rights as rows: everything allowed, plus what an explicit rule denies."""
    return explain_rows(manifest, principal, decide)
