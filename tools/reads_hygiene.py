"""Data-quality reads: the specs of find_consent_conflicts and find_duplicates, each tool in
its own module (``consent_conflicts``, ``find_duplicates``) over the bounded page reading they
share (``scan_pages``): both say when they stopped early, rather than silently reporting a
partial answer as complete.
"""

from __future__ import annotations

from mopsgate.governance.risk import RiskClass
from mopsgate.tools.consent_conflicts import (
    CONFLICTS_DEFINITION,
    ConflictsIn,
    ConflictsOut,
    find_consent_conflicts,
)
from mopsgate.tools.find_duplicates import DuplicatesIn, DuplicatesOut, find_duplicates
from mopsgate.tools.snapshots import SNAPSHOT_MINUTES
from mopsgate.tools.spec import ConnectorNeed, ToolSpec

HYGIENE_TOOLS = (
    ToolSpec(
        "find_consent_conflicts",
        "Find consent conflicts",
        "Use before any send. " + CONFLICTS_DEFINITION + " Returns each person with the "
        "campaigns and lists they were found in; 'complete' is false if the scan stopped early "
        "or an audience could not be read.",
        ConflictsIn,
        ConflictsOut,
        find_consent_conflicts,
        RiskClass.READ,
        ConnectorNeed.ARGUMENT,
    ),
    ToolSpec(
        "find_duplicates",
        "Find duplicates",
        "Groups of people sharing a normalised email, or the same name and company "
        "(optionally inside one list; Salesforce compares Leads and Contacts together), each "
        "with a confidence (email: high; name + company alone: low, often different people) "
        "and a suggested survivor for propose_merge_people. Paged by group: pass next_cursor "
        "(later pages show the records as read for the first, at most "
        f"{SNAPSHOT_MINUTES:g} minutes before). "
        "Keys are masked and built only from fields you may read. Marketo cannot list every "
        "lead: there pass list_ref.",
        DuplicatesIn,
        DuplicatesOut,
        find_duplicates,
        RiskClass.READ,
        ConnectorNeed.ARGUMENT,
    ),
)
