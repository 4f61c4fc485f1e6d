"""The compiled form of a manifest and the rule-matching primitives every decision shares.

Kept apart from ``policy`` so field, approval and explain views can use the same matching without
importing the decision entry points (and without a cycle).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from mopsgate.governance.catalogue import CONNECTORS
from mopsgate.governance.manifest_model import WILDCARD, AllowRule, DenyRule, Manifest, RateLimit
from mopsgate.governance.risk import DEFAULT_MODES, WRITE_CLASSES, Mode, RiskClass

EXPLICIT_ONLY_CLASSES = frozenset({RiskClass.SEND, RiskClass.DELETE})
DEFAULT_RATE_LIMIT = RateLimit(calls_per_minute=120, records_per_hour=2000)
# Records one change may touch when a rule does not say; production gets half.
DEFAULT_RECORD_CAP = 200


@dataclass(frozen=True)
class Decision:
    allowed: bool
    rule_id: str
    reason: str
    # The use case of the rule that decided: what the call ran under, for the audit row and the
    # change. None when no rule of a use case decided (default deny, an explicit deny).
    use_case: str | None = None
    # When the call could run under several use cases and named none: the ones to choose from.
    candidates: tuple[str, ...] = ()


@dataclass
class Compiled:
    """Rules indexed per principal plus memoised decisions; one per loaded manifest."""

    manifest: Manifest
    allow: dict[str, tuple[AllowRule, ...]]
    deny: dict[str, tuple[DenyRule, ...]]
    proposer: dict[str, tuple[AllowRule, ...]]  # rules that let the principal propose, by id
    cache: dict[tuple[str, str, str | None, str | None, str | None], Decision] = field(
        default_factory=dict
    )
    views: dict[tuple[object, ...], object] = field(default_factory=dict)


def mode_of(rule: AllowRule, risk: RiskClass) -> Mode:
    return rule.modes.get(risk, DEFAULT_MODES[risk])


def grants(rule: AllowRule, risk: RiskClass) -> bool:
    mode = mode_of(rule, risk)
    return mode is not Mode.DENY if risk is RiskClass.READ else mode is Mode.PROPOSE


def proposes(rule: AllowRule, risk: RiskClass, tools: Mapping[str, RiskClass]) -> bool:
    """The rule really grants this class: the mode allows it and it covers a tool of the class
    (a ``delete = "propose"`` mode on a wildcard rule grants nothing, for example)."""
    return grants(rule, risk) and any(
        r is risk and tool_match(rule.tools, t, r) for t, r in tools.items()
    )


def reaches(rule: AllowRule, risk: RiskClass, connector: str, manifest: Manifest) -> bool:
    """Whether an allow rule that covers ``connector`` may grant ``risk`` there: a delete (or
    merge) on a production connector needs a rule naming the connector, so a grant written
    with connectors = ["*"] for the sandboxes does not follow a connector switched to
    production."""
    if risk is not RiskClass.DELETE or manifest.environment(connector) != "production":
        return True
    return connector in rule.connectors


def tool_match(names: Iterable[str], tool: str, risk: RiskClass) -> bool:
    names = tuple(names)
    return tool in names or (WILDCARD in names and risk not in EXPLICIT_ONLY_CLASSES)


def scope_match(
    rule: AllowRule | DenyRule, tool: str, connector: str | None, obj: str | None, *, deny: bool
) -> bool:
    """Does the rule's connector/object scope cover this place? A deny rule must cover the whole
    of an unspecified object; an allow rule only needs to touch it."""
    if connector is None:
        return WILDCARD in rule.connectors or tool in rule.tools
    if WILDCARD not in rule.connectors and connector not in rule.connectors:
        return False
    if obj is None:
        return not deny or WILDCARD in rule.objects
    return WILDCARD in rule.objects or obj in rule.objects


def compiled(manifest: Manifest) -> Compiled:
    found = manifest.compiled()
    if isinstance(found, Compiled):
        return found
    cat = manifest.catalogue
    allow: dict[str, list[AllowRule]] = {p: [] for p in manifest.principals}
    deny: dict[str, list[DenyRule]] = {p: [] for p in manifest.principals}
    for rule in sorted(manifest.rules, key=lambda r: r.id):
        targets = manifest.principals if WILDCARD in rule.principals else rule.principals
        for p in targets:
            if p in allow and isinstance(rule, AllowRule):
                allow[p].append(rule)
            elif p in deny and isinstance(rule, DenyRule):
                deny[p].append(rule)
    proposer: dict[str, tuple[AllowRule, ...]] = {}
    for p, rules in allow.items():
        proposer[p] = tuple(
            r
            for r in rules
            if any(
                risk in WRITE_CLASSES
                and tool not in cat.connectorless_tools
                and tool_match(r.tools, tool, risk)
                and mode_of(r, risk) is Mode.PROPOSE
                for tool, risk in cat.tools.items()
            )
        )
    comp = Compiled(
        manifest=manifest,
        allow={p: tuple(v) for p, v in allow.items()},
        deny={p: tuple(v) for p, v in deny.items()},
        proposer=proposer,
    )
    manifest.set_compiled(comp)
    return comp


def connectors_of(manifest: Manifest) -> tuple[str, ...]:
    return tuple(manifest.catalogue.objects) or CONNECTORS
