"""How values are stored as SQLite text: one timestamp format (UTC, microseconds, explicit
offset), so timestamps compare correctly as text in SQL; JSON with sorted keys."""

from __future__ import annotations

import json
from datetime import UTC, datetime


def ts(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("timestamps must be timezone-aware")
    return at.astimezone(UTC).isoformat(timespec="microseconds")


def maybe_ts(at: datetime | None) -> str | None:
    return None if at is None else ts(at)


def when(text: str) -> datetime:
    at = datetime.fromisoformat(text)
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def maybe_when(text: str | None) -> datetime | None:
    return None if text is None else when(text)


def to_json(value: object) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
