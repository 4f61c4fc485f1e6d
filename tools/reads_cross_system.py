"""One person across Marketo, HubSpot and Salesforce: resolve them, and find where the systems
disagree about people (consent, lifecycle stage, owner).

Both tools match on unmasked values on the server (``person_matching``) and show what they
found with the caller's field rights and masking, per connector and object. A value the caller
may not read is never compared: saying that two hidden values differ would reveal them; nor
matched on: finding a record by an address the caller may not read would reveal it too.
"""

from __future__ import annotations

from mopsgate.governance.risk import RiskClass
from mopsgate.tools.cross_system_drift import (
    DRIFT_DEFINITION,
    DriftIn,
    DriftOut,
    find_cross_system_drift,
)
from mopsgate.tools.resolve_person import ResolveIn, ResolveOut, resolve_person
from mopsgate.tools.snapshots import SNAPSHOT_MINUTES
from mopsgate.tools.spec import ConnectorNeed, ToolSpec

CROSS_SYSTEM_TOOLS = (
    ToolSpec(
        "resolve_person",
        "Resolve a person across systems",
        "Use when a request is about one person (or a few) in more than one system — 'is "
        "she opted out everywhere?', 'who owns him in Salesforce and HubSpot?'. From record "
        "references or email addresses (up to 50 per call), returns each person's records on "
        "every connector you may read, how each was matched (email: strong; name + company: "
        "weak, possibly another person), and a field-by-field comparison of consent, "
        "lifecycle stage, lead status, title and owner with differences flagged. Matching "
        "runs on unmasked values on the server; values are shown masked per your rights. For "
        "many people at once, use find_cross_system_drift.",
        ResolveIn,
        ResolveOut,
        resolve_person,
        RiskClass.READ,
        ConnectorNeed.ARGUMENT,
    ),
    ToolSpec(
        "find_cross_system_drift",
        "Find cross-system drift",
        "Use for a MAP-vs-CRM discrepancy audit: everyone whose consent, lifecycle stage or "
        "owner differs between connectors, consent drift first (mailable in one system, opted "
        "out in another). Paged (pass next_cursor back; later pages show the systems as read for "
        f"the first, at most {SNAPSHOT_MINUTES:g} minutes before), with counts per kind. "
        + DRIFT_DEFINITION
        + " To fix an opt-out everywhere, use propose_opt_out_everywhere.",
        DriftIn,
        DriftOut,
        find_cross_system_drift,
        RiskClass.READ,
        ConnectorNeed.ARGUMENT,
    ),
)
