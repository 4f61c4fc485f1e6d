"""MOPs risk classes and the compliance floor.

The risk class of a tool decides which manifest mode applies to it, how many human approvals a
change needs, and which MCP annotations the tool advertises. Keeping all of that derived from one
enum means a client can trust the annotations: they cannot drift from what governance enforces.
"""

from __future__ import annotations

from enum import StrEnum


class RiskClass(StrEnum):
    READ = "read"
    UPDATE_FIELDS = "update_fields"
    AUDIENCE = "audience"
    LIFECYCLE = "lifecycle"
    CONSENT = "consent"
    SEND = "send"
    DELETE = "delete"


class Mode(StrEnum):
    """What a principal may do within one risk class.

    ``read`` lets it see the data the class touches but not propose changes; ``propose`` lets it
    create a change for human review. There is deliberately no mode that applies without review.
    """

    DENY = "deny"
    READ = "read"
    PROPOSE = "propose"


WRITE_CLASSES: frozenset[RiskClass] = frozenset(RiskClass) - {RiskClass.READ}

# Defaults for a sandbox connector when the manifest says nothing (PRODUCT.md / issue 5).
SANDBOX_DEFAULT_APPROVALS: dict[RiskClass, int] = {
    RiskClass.READ: 0,
    RiskClass.UPDATE_FIELDS: 1,
    RiskClass.AUDIENCE: 1,
    RiskClass.LIFECYCLE: 1,
    RiskClass.CONSENT: 1,
    RiskClass.SEND: 2,
    RiskClass.DELETE: 2,
}

# Production is stricter by default: one more approval on every write class.
PRODUCTION_EXTRA_APPROVALS = 1

# The compliance floor: no manifest can go below these. PRODUCT.md gives each class a default
# approval count that "the manifest can tighten", so the floor is the sandbox default itself:
# destructive classes (send, delete — merges are governed as deletes) need two distinct
# reviewers, and a manifest asking for one is refused rather than quietly loosening the rule.
FLOOR_MIN_APPROVALS: dict[RiskClass, int] = dict(SANDBOX_DEFAULT_APPROVALS)

# Reviewer role that must be among the approvers of a change of this class (floor for sends).
FLOOR_REQUIRED_ROLES: dict[RiskClass, frozenset[str]] = {
    RiskClass.SEND: frozenset({"compliance"}),
}

# Default mode per class when a grant does not name one: reads allowed, delete never.
DEFAULT_MODES: dict[RiskClass, Mode] = {
    RiskClass.READ: Mode.READ,
    RiskClass.UPDATE_FIELDS: Mode.DENY,
    RiskClass.AUDIENCE: Mode.DENY,
    RiskClass.LIFECYCLE: Mode.DENY,
    RiskClass.CONSENT: Mode.DENY,
    RiskClass.SEND: Mode.DENY,
    RiskClass.DELETE: Mode.DENY,
}


# Tools whose own effect is not their risk class's: the change lifecycle tools are decided as
# bookkeeping (risk read, or the stored change's class), but cancelling changes the state of a
# change, and applying writes whatever the change holds — sends, opt-outs and deletes included.
LIFECYCLE_HINTS: dict[str, dict[str, bool]] = {
    "cancel_change": {
        "read_only_hint": False,
        "destructive_hint": False,
        "idempotent_hint": True,
        "open_world_hint": False,
    },
    "apply_change": {
        "read_only_hint": False,
        "destructive_hint": True,
        "idempotent_hint": False,
        "open_world_hint": True,
    },
}


def tool_hints(tool: str, risk: RiskClass) -> dict[str, bool]:
    """The MCP hints of one tool: its own where its effect differs from its class's."""
    return LIFECYCLE_HINTS.get(tool) or annotations_for(risk)


def annotations_for(risk: RiskClass) -> dict[str, bool]:
    """MCP tool hints derived from the risk class, so they always match enforcement.

    Propose tools only plan (nothing upstream changes until a human approves), but the change
    they lead to is what a client should weigh, so the hints describe the eventual effect.
    """
    read_only = risk is RiskClass.READ
    return {
        "read_only_hint": read_only,
        "destructive_hint": risk in {RiskClass.DELETE, RiskClass.SEND, RiskClass.CONSENT},
        "idempotent_hint": read_only,
        "open_world_hint": True,
    }
