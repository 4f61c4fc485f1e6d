"""What ``mopsgate audit query`` asks the audit log: pure types, one meaning for every backend.

Every filter narrows (they combine with AND). ``record`` is the question a data-protection
request asks — every call that saw or touched this person — so it matches a row that lists the
reference in its data-access record, and every row of a change that targets it (its review
actions, apply and revert included, which name the change rather than the person).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

QueryDecision = Literal["allowed", "denied"]


@dataclass(frozen=True)
class AuditQuery:
    principal: str | None = None
    use_case: str | None = None
    tool: str | None = None
    record: str | None = None
    change_id: str | None = None
    decision: QueryDecision | None = None
    since: datetime | None = None
    until: datetime | None = None
    limit: int | None = None

    def describe(self) -> str:
        """The filters in use, for a message about an empty answer."""
        parts = [
            f"{name.replace('_', '-')} {value}"
            for name, value in vars(self).items()
            if value is not None and name != "limit"
        ]
        return ", ".join(parts) or "no filters"
