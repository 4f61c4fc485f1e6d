"""Warnings about a valid manifest: things that do not stop it loading but need a person.

An overdue review is not an error (refusing the manifest would keep the *previous* version in
force, which is no safer), but the admin running ``manifest check`` must see it, at the line
to edit, before the use case's ``on_overdue`` starts refusing calls.
"""

from __future__ import annotations

import datetime as dt

from mopsgate.governance.cadence import review_statuses
from mopsgate.governance.manifest_load import LineIndex, Problem
from mopsgate.governance.manifest_model import Manifest

# A review due this soon is worth a warning too: the grace period is for mishaps, not planning.
DUE_SOON_DAYS = 14


def review_warnings(manifest: Manifest, text: str, source: str, today: dt.date) -> list[Problem]:
    index = LineIndex(text)
    out = []
    for status in review_statuses(manifest, today):
        days_left = (status.review_date - today).days
        if status.overdue:
            message = f"warning: {status.describe()}"
        elif days_left <= DUE_SOON_DAYS:
            message = (
                f"warning: use case {status.use_case!r} is due for review on "
                f"{status.review_date} (in {days_left} day(s))"
            )
        else:
            continue
        line, col = index.locate(("use_cases", status.use_case, "review_date"))
        out.append(Problem(source, line, col, message))
    return sorted(out)
