"""Derived views of the policy: field access, approvals, record caps and the explain table.

These answer "how much" once ``decide`` has answered "whether". They never relax a decision:
denied fields win over readable ones, approvals only go up from the floor, and production
connectors get stricter defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field

from mopsgate.governance.catalogue import ObjectFields
from mopsgate.governance.manifest_model import WILDCARD, AllowRule, DenyRule, Manifest
from mopsgate.governance.policy_core import (
    DEFAULT_RECORD_CAP,
    Compiled,
    Decision,
    compiled,
    connectors_of,
    proposes,
    reaches,
    scope_match,
    tool_match,
)
from mopsgate.governance.risk import (
    FLOOR_MIN_APPROVALS,
    FLOOR_REQUIRED_ROLES,
    PRODUCTION_EXTRA_APPROVALS,
    SANDBOX_DEFAULT_APPROVALS,
    WRITE_CLASSES,
    RiskClass,
)


@dataclass(frozen=True)
class FieldAccess:
    readable: frozenset[str] | None  # None: every field not denied
    denied: dict[str, str] = field(hash=False)  # field -> reason (names the rule)
    writable: frozenset[str]
    pii_fields: frozenset[str]
    unmasked_pii: bool
    rule_ids: tuple[str, ...]

    def can_read(self, name: str) -> bool:
        return name not in self.denied and (self.readable is None or name in self.readable)

    def must_mask(self, name: str) -> bool:
        return name in self.pii_fields and not self.unmasked_pii


@dataclass(frozen=True)
class ApprovalRequirement:
    count: int
    roles: frozenset[str]
    rule_id: str
    reason: str


@dataclass(frozen=True)
class ExplainRow:
    tool: str
    connector: str | None
    risk: str
    mode: str  # "read" | "propose" | "deny"
    fields: str
    approvals: str
    cap: int | None
    rule_id: str
    reason: str


def _allow_rules(
    comp: Compiled, principal: str, connector: str, obj: str | None, tool: str | None
) -> list[AllowRule]:
    cat = comp.manifest.catalogue
    out = []
    for rule in comp.allow.get(principal, ()):
        if not scope_match(rule, tool or "", connector, obj, deny=False):
            continue
        if tool is not None and not tool_match(rule.tools, tool, cat.tools[tool]):
            continue
        out.append(rule)
    return out


def _field_denies(
    comp: Compiled, principal: str, connector: str, obj: str, tool: str | None
) -> list[DenyRule]:
    cat = comp.manifest.catalogue
    return [
        r
        for r in comp.deny.get(principal, ())
        if r.fields
        and scope_match(r, tool or "", connector, obj, deny=True)
        and (tool is None or tool_match(r.tools, tool, cat.tools[tool]))
    ]


def _denied_fields(
    allows: list[AllowRule], denies: list[DenyRule], of: ObjectFields | None
) -> dict[str, str]:
    """Field -> why it is withheld. Only fields the object has, so reasons stay relevant."""
    denied: dict[str, str] = {}
    for d in denies:
        for name in d.fields:
            denied.setdefault(name, f"{d.reason or 'withheld'} (rule {d.id!r})")
    for a in allows:
        for name in a.deny_fields:
            denied.setdefault(name, f"withheld by rule {a.id!r}")
    if of is not None and of.fields:
        denied = {k: v for k, v in denied.items() if k in of.fields}
    return denied


def field_access(
    manifest: Manifest, principal: str, connector: str, obj: str, tool: str | None = None
) -> FieldAccess:
    """What this principal may see and change on one object. With ``tool`` only rules covering
    that tool count; without it every rule for the place counts (denies apply regardless)."""
    comp = compiled(manifest)
    key = ("fields", principal, connector, obj, tool)
    hit = comp.views.get(key)
    if isinstance(hit, FieldAccess):
        return hit
    if tool is not None and tool not in manifest.catalogue.tools:
        tool = None
    of = manifest.catalogue.objects.get(connector, {}).get(obj)
    allows = _allow_rules(comp, principal, connector, obj, tool)
    denies = _field_denies(comp, principal, connector, obj, tool)
    denied = _denied_fields(allows, denies, of)
    readable: frozenset[str] | None = None
    if not any(WILDCARD in a.read_fields for a in allows):
        readable = frozenset(n for a in allows for n in a.read_fields)
    never_written = (of.consent | of.read_only) if of else frozenset()
    writable = frozenset(n for a in allows for n in a.write_fields) - set(denied) - never_written
    if of and of.fields:
        writable &= of.fields
    production = manifest.environment(connector) == "production"
    unmasked = bool(allows) and all(
        a.pii == "unmasked" and (not production or connector in a.connectors) for a in allows
    )
    extra_pii = frozenset(manifest.pii.get(connector, ()))
    if of is not None and of.fields:
        extra_pii &= of.fields
    result = FieldAccess(
        readable=readable,
        denied=denied,
        writable=writable,
        pii_fields=(of.pii if of else frozenset()) | extra_pii,
        unmasked_pii=unmasked,
        rule_ids=tuple(sorted({r.id for r in allows} | {r.id for r in denies})),
    )
    comp.views[key] = result
    return result


def approval_requirement(
    manifest: Manifest, principal: str, connector: str, risk: RiskClass, n_records: int
) -> ApprovalRequirement:
    """Approvals for one change. Rule approvals can only raise the manifest-wide count;
    production adds ``PRODUCTION_EXTRA_APPROVALS``; nothing goes below the compliance floor."""
    if risk not in WRITE_CLASSES:
        return ApprovalRequirement(0, frozenset(), "read", "reads need no approval")
    comp = compiled(manifest)
    tools = manifest.catalogue.tools
    pol = manifest.approvals.get(risk)
    count, source = SANDBOX_DEFAULT_APPROVALS[risk], "default-approvals"
    why = [f"{count} by default for {risk}"]
    if pol is not None and pol.count is not None:
        count, source = pol.count, f"approvals.{risk}"
        why = [f"{count} from [approvals.{risk}]"]
    for rule in _allow_rules(comp, principal, connector, None, None):
        wanted = rule.approvals.get(risk)
        if wanted is not None and wanted > count and proposes(rule, risk, tools):
            count, source = wanted, rule.id
            why = [f"{count} from rule {rule.id!r}"]
    if manifest.environment(connector) == "production":
        count += PRODUCTION_EXTRA_APPROVALS
        why.append(f"+{PRODUCTION_EXTRA_APPROVALS} because {connector} is production")
    if pol is not None and pol.records_over is not None and n_records > pol.records_over:
        count += pol.extra
        why.append(f"+{pol.extra} because {n_records} records > {pol.records_over}")
    floor = FLOOR_MIN_APPROVALS[risk]
    if count < floor:
        count = floor
        why.append(f"raised to the compliance floor of {floor}")
    roles = frozenset(pol.roles if pol else ()) | FLOOR_REQUIRED_ROLES.get(risk, frozenset())
    if roles:
        why.append(f"including someone with role {', '.join(sorted(roles))}")
    return ApprovalRequirement(count, roles, source, "; ".join(why))


def record_cap(manifest: Manifest, principal: str, connector: str, risk: RiskClass) -> int:
    """Most records one change of this class may touch; 0 when the principal cannot propose it.
    When several rules grant it the smallest cap wins. Kept with the compiled manifest: every
    listing says each proposal tool's caps, and every proposal checks its own."""
    comp = compiled(manifest)
    key = ("record_cap", principal, connector, risk)
    hit = comp.views.get(key)
    if isinstance(hit, int):
        return hit
    default = DEFAULT_RECORD_CAP
    if manifest.environment(connector) == "production":
        default //= 2
    caps = [
        rule.max_records_per_change or default
        for rule in _allow_rules(comp, principal, connector, None, None)
        if proposes(rule, risk, manifest.catalogue.tools)
        and reaches(rule, risk, connector, manifest)
    ]
    comp.views[key] = cap = min(caps) if caps else 0
    return cap


def _fields_summary(manifest: Manifest, principal: str, connector: str, tool: str) -> str:
    risk = manifest.catalogue.tools[tool]
    parts: list[str] = []
    for obj, of in sorted(manifest.catalogue.objects.get(connector, {}).items()):
        if not of.fields:
            continue
        fa = field_access(manifest, principal, connector, obj, tool)
        if risk is RiskClass.UPDATE_FIELDS:
            parts.append(f"{obj}: write {', '.join(sorted(fa.writable)) or 'nothing'}")
            continue
        seen = "all" if fa.readable is None else (", ".join(sorted(fa.readable)) or "none")
        if fa.denied:
            seen += f" except {', '.join(sorted(fa.denied))}"
        pii = "PII unmasked" if fa.unmasked_pii else "PII masked"
        parts.append(f"{obj}: {seen}; {pii}")
    return "\n".join(parts)


def _row(
    manifest: Manifest, principal: str, tool: str, connector: str | None, d: Decision
) -> ExplainRow:
    risk = manifest.catalogue.tools[tool]
    # Allowed under each of several use cases: the rights are real, the call must name one.
    granted = d.allowed or bool(d.candidates)
    mode = "deny"
    if granted:
        mode = "read" if risk is RiskClass.READ else "propose"
    fields, approvals, cap = "", "-", None
    if granted and connector is not None:
        if risk in {RiskClass.READ, RiskClass.UPDATE_FIELDS}:
            fields = _fields_summary(manifest, principal, connector, tool)
        if risk in WRITE_CLASSES:
            req = approval_requirement(manifest, principal, connector, risk, 1)
            roles = f" (incl. {', '.join(sorted(req.roles))})" if req.roles else ""
            approvals = f"{req.count}{roles}"
            cap = record_cap(manifest, principal, connector, risk)
    return ExplainRow(tool, connector, str(risk), mode, fields, approvals, cap, d.rule_id, d.reason)


def explain_rows(
    manifest: Manifest,
    principal: str,
    decide: Callable[..., Decision],
    shown: Collection[str] = (),
) -> list[ExplainRow]:
    """Rows for what is allowed, what a deny rule withholds, and refusals whose rule id is in
    ``shown`` (an overdue review, an ambiguous use case)."""
    comp = compiled(manifest)
    deny_ids = {r.id for r in manifest.rules if isinstance(r, DenyRule)} | set(shown)
    rows: list[ExplainRow] = []
    if principal not in comp.allow:
        return rows
    for tool in sorted(manifest.catalogue.tools):
        places: tuple[str | None, ...] = (None,)
        if tool not in manifest.catalogue.connectorless_tools:
            places = connectors_of(manifest)
        for connector in places:
            d = decide(manifest, principal, tool, connector)
            if d.allowed or d.rule_id in deny_ids:
                rows.append(_row(manifest, principal, tool, connector, d))
    return rows
