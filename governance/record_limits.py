"""A principal's record limits, said where a model reads them: in each proposal tool's
description, and in the refusal of a change over the cap.

The input schemas carry the hard maximum one change may hold (10,000 records), which is far
above what most principals may propose; without its own cap in front of it a model plans a
10,000-record change and is refused. And a cap refusal that only warns "splitting is caught by
your hourly limit" discourages the split the hourly limit does allow.
"""

from __future__ import annotations

from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.policy import rate_limit, record_cap
from mopsgate.governance.policy_core import connectors_of
from mopsgate.governance.risk import WRITE_CLASSES, RiskClass


def caps_by_connector(manifest: Manifest, principal: str, risk: RiskClass) -> dict[str, int]:
    """Connector -> most records one change of ``risk`` may touch (only where it may propose)."""
    caps = {c: record_cap(manifest, principal, c, risk) for c in connectors_of(manifest)}
    return {c: cap for c, cap in caps.items() if cap > 0}


def limits_note(manifest: Manifest, principal: str, tool: str) -> str | None:
    """The sentence appended to a proposal tool's description for this principal; None for
    tools that propose nothing on a connector of their own."""
    cat = manifest.catalogue
    risk = cat.tools.get(tool)
    if risk not in WRITE_CLASSES or tool in cat.connectorless_tools or risk is None:
        return None
    caps = caps_by_connector(manifest, principal, risk)
    if not caps:
        return None
    groups: dict[int, list[str]] = {}
    for conn, cap in caps.items():
        groups.setdefault(cap, []).append(conn)
    per_change = "; ".join(
        f"{cap} records per change on {', '.join(conns)}" for cap, conns in sorted(groups.items())
    )
    hourly = rate_limit(manifest, principal).records_per_hour
    return (
        f"Your limits ({risk}): at most {per_change}, and {hourly} records per hour across all "
        "your proposals. A bigger request is split into several changes within the hourly limit."
    )


def split_hint(cap: int, n: int, hourly: int, used: int) -> str:
    """What to do with a change of ``n`` records over the cap: the split that fits now."""
    parts = -(-n // cap)
    room = max(0, hourly - used)
    split = f"Split it into {parts} changes of at most {cap} records each (by list, segment or id)"
    if room >= n:
        return f"{split}: your hourly limit ({hourly} records, {used} used) has room for all {n}."
    if room > 0:
        return (
            f"{split}: your hourly limit ({hourly} records, {used} used) has room for {room} "
            "more now; propose the rest in the next hour, or ask a human for this bulk change."
        )
    return (
        f"{split}, after the hour: your hourly limit of {hourly} records is spent; or ask a "
        "human for this bulk change."
    )
