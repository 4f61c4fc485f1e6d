"""Review cadence: when a use case is overdue for review, and what that stops.

A review date that is only a label gets missed; so each use case says what happens once its
review is overdue and a grace period has passed (``on_overdue``):

- ``warn``: nothing is refused; the overdue review shows wherever the use case does (whoami,
  my_permissions, manifest check and explain, the risk report).
- ``propose_only``: the assistant may still read and propose, but nothing proposed under the
  use case is applied until its owners have reviewed it (moved ``review_date``). Work queues
  up for review instead of reaching the vendor.
- ``deny``: every call decided under the use case is refused, until it is reviewed.

During the grace period every mode only warns, so a review that is a few days late does not stop
a team mid-campaign. Dates are calendar days in UTC: a use case due on 2027-05-01 is overdue
from 2027-05-02, and with 14 days' grace enforced from 2027-05-16.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from mopsgate.governance.manifest_model import Manifest, UseCase

OnOverdue = Literal["warn", "propose_only", "deny"]
RULE_ID = "review-overdue"
# The one tool that makes a proposal take effect; propose_only stops exactly this.
APPLY_TOOL = "apply_change"


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass(frozen=True)
class ReviewStatus:
    """Where one use case stands against its review date on a given day."""

    use_case: str
    review_date: dt.date
    grace_days: int
    on_overdue: OnOverdue
    today: dt.date

    @property
    def days_overdue(self) -> int:
        return max(0, (self.today - self.review_date).days)

    @property
    def overdue(self) -> bool:
        return self.days_overdue > 0

    @property
    def enforced_from(self) -> dt.date:
        """The first day ``on_overdue`` applies (warnings start the day after review_date)."""
        return self.review_date + dt.timedelta(days=self.grace_days + 1)

    @property
    def enforced(self) -> bool:
        """True when calls are being refused because of this review (never for ``warn``)."""
        return self.on_overdue != "warn" and self.today >= self.enforced_from

    @property
    def state(self) -> Literal["current", "overdue", "enforced"]:
        return "enforced" if self.enforced else ("overdue" if self.overdue else "current")

    def describe(self) -> str:
        """One sentence for people: what is late, since when, and what it does now."""
        if not self.overdue:
            return f"use case {self.use_case!r} is due for review by {self.review_date}"
        late = (
            f"use case {self.use_case!r} was due for review on {self.review_date} "
            f"({self.days_overdue} day(s) overdue)"
        )
        if self.on_overdue == "warn":
            return f'{late}; on_overdue = "warn": nothing is refused'
        effect = (
            "nothing under it is applied"
            if self.on_overdue == "propose_only"
            else "every call under it is refused"
        )
        if self.enforced:
            return f'{late}; on_overdue = "{self.on_overdue}": {effect} until it is reviewed'
        return (
            f'{late}; on_overdue = "{self.on_overdue}": from {self.enforced_from} {effect} '
            "until it is reviewed"
        )


def review_status(name: str, uc: UseCase, today: dt.date) -> ReviewStatus:
    return ReviewStatus(name, uc.review_date, uc.grace_days, uc.on_overdue, today)


def review_statuses(manifest: Manifest, today: dt.date) -> list[ReviewStatus]:
    """Every use case, by name."""
    return [review_status(n, uc, today) for n, uc in sorted(manifest.use_cases.items())]


def overdue(manifest: Manifest, today: dt.date) -> list[ReviewStatus]:
    return [s for s in review_statuses(manifest, today) if s.overdue]


def cadence_refusal(
    manifest: Manifest, use_case: str | None, tool: str, today: dt.date
) -> str | None:
    """Why a call decided under ``use_case`` is refused for an overdue review, or None."""
    uc = manifest.use_cases.get(use_case or "")
    if uc is None or use_case is None:
        return None
    status = review_status(use_case, uc, today)
    if not status.enforced:
        return None
    if status.on_overdue == "propose_only" and tool != APPLY_TOOL:
        return None
    who = uc.owners.risk or "the risk owner"
    contact = f" or {uc.owners.escalation}" if uc.owners.escalation else ""
    return (
        f"{status.describe()}. Ask {who}{contact} to review use case {use_case!r} and move "
        "its review_date in permissions.toml"
    )
