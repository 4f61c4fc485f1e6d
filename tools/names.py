"""The tool catalogue's names and risk classes.

This is the single list the manifest is validated against (a manifest naming any other tool is
rejected) and from which MCP annotations are derived. Risk classes of propose tools name the
class of the change they plan; ``propose_update_person`` is reclassified per field at plan time
(lifecycle and consent fields raise it).
"""

from __future__ import annotations

from mopsgate.governance.risk import RiskClass

R = RiskClass

TOOL_RISK: dict[str, RiskClass] = {
    # identity and rights
    "whoami": R.READ,
    "my_permissions": R.READ,
    # reads
    "search_people": R.READ,
    "get_person": R.READ,
    "describe_fields": R.READ,
    "list_lists": R.READ,
    "list_members": R.READ,
    "get_person_memberships": R.READ,
    "list_campaigns": R.READ,
    "get_campaign": R.READ,
    "campaign_performance": R.READ,
    "get_activities": R.READ,
    "get_consent_state": R.READ,
    "find_consent_conflicts": R.READ,
    "find_duplicates": R.READ,
    "api_budget": R.READ,
    # proposals (plan only; a human approves; apply_change writes)
    "propose_update_person": R.UPDATE_FIELDS,
    "propose_add_to_list": R.AUDIENCE,
    "propose_remove_from_list": R.AUDIENCE,
    "propose_set_campaign_status": R.LIFECYCLE,
    "propose_trigger_campaign": R.SEND,
    "propose_schedule_campaign": R.SEND,
    "propose_opt_out": R.CONSENT,
    "propose_delete_person": R.DELETE,
    "propose_revert": R.UPDATE_FIELDS,
    # the change lifecycle, as the requester sees it
    "get_change": R.READ,
    "list_my_changes": R.READ,
    "cancel_change": R.READ,
    "apply_change": R.UPDATE_FIELDS,
}

# Tools that do not touch a vendor connector (no connector argument).
CONNECTORLESS_TOOLS: frozenset[str] = frozenset(
    {
        "whoami",
        "my_permissions",
        "get_change",
        "list_my_changes",
        "cancel_change",
        "apply_change",
        "propose_revert",
    }
)
