"""The kill switch: one shared flag every apply reads before it writes.

It lives in the shared database rather than in process memory so that a freeze typed into one
terminal stops applies in every running server at once, with no restart and no signal to
deliver. Applies check it inside the same transaction that claims a change (the store's
``claim_for_apply``), so there is no window between "not frozen" and "now applying", and an
apply under way reads it again before each further batch, so a freeze also stops the writes in
flight (``applying``). Who froze and why goes to the audit log via the CLI. Here: what a
freeze is, and the refusal it causes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from mopsgate.governance.errors import Frozen


@dataclass(frozen=True)
class FreezeState:
    reason: str
    by: str
    at: datetime


def frozen_error(state: FreezeState) -> Frozen:
    return Frozen(
        f"applies are frozen (since {state.at.isoformat(timespec='seconds')} by {state.by}: "
        f"{state.reason or 'no reason given'})",
        hint="nothing will be written until an operator runs `mopsgate unfreeze`; proposals and "
        "reviews still work, so the change can be applied once applies resume",
        details={"reason_code": "frozen", "frozen_by": state.by, "reason": state.reason},
    )


def freezing(before: FreezeState | None, reason: str, by: str, now: datetime) -> FreezeState:
    """The switch after a freeze by ``by``. Freezing again keeps the incident as it began: its
    start, who froze it and its reason (unless a new one is given), so the banner never pairs
    one person's name with another's start time; who froze again is in the audit log."""
    if before is None:
        return FreezeState(reason, by, now)
    return FreezeState(reason or before.reason, before.by, before.at)
