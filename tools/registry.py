"""Every tool mopsgate offers, in one place: the server serves exactly these, and the manifest's
catalogue, the MCP listing and the README check are derived from them."""

from __future__ import annotations

from mopsgate.tools.changes import CHANGE_TOOLS
from mopsgate.tools.follow_ups import FOLLOW_UP_TOOLS
from mopsgate.tools.identity import IDENTITY_TOOLS
from mopsgate.tools.list_changes import LIST_CHANGE_TOOLS
from mopsgate.tools.merges import MERGE_TOOLS
from mopsgate.tools.owners import OWNER_TOOLS
from mopsgate.tools.reads_cross_system import CROSS_SYSTEM_TOOLS
from mopsgate.tools.reads_hygiene import HYGIENE_TOOLS
from mopsgate.tools.reads_lists import LIST_TOOLS
from mopsgate.tools.reads_people import PEOPLE_TOOLS
from mopsgate.tools.reads_usage import USAGE_TOOLS
from mopsgate.tools.spec import Spec
from mopsgate.tools.writes import WRITE_TOOLS
from mopsgate.tools.writes_across import ACROSS_TOOLS

SPECS: tuple[Spec, ...] = (
    *IDENTITY_TOOLS,
    *PEOPLE_TOOLS,
    *LIST_TOOLS,
    *HYGIENE_TOOLS,
    *CROSS_SYSTEM_TOOLS,
    *USAGE_TOOLS,
    *WRITE_TOOLS,
    *MERGE_TOOLS,
    *LIST_CHANGE_TOOLS,
    *OWNER_TOOLS,
    *ACROSS_TOOLS,
    *FOLLOW_UP_TOOLS,
    *CHANGE_TOOLS,
)


def all_specs() -> dict[str, Spec]:
    return {s.name: s for s in SPECS}
