"""Stored decisions as ``audit verify`` reads them, from either backend's rows.

Approvals have their own table; a rejection is part of its change's document. A backend reads
both with the change's plan and manifest digests and hands the rows here: SQLite as text (JSON
and ISO timestamps), PostgreSQL as ``jsonb`` and ``timestamptz`` values. A proof that cannot be
parsed is kept as "unreadable" with the reason, so verification names it instead of crashing.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from mopsgate.governance.decision_audit import StoredDecision
from mopsgate.governance.decision_proof import SignedDecision


def _json(raw: object) -> Any:
    return json.loads(raw) if isinstance(raw, str | bytes) else raw


def _when(raw: object) -> datetime:
    at = raw if isinstance(raw, datetime) else datetime.fromisoformat(str(raw))
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def read_proof(raw: object) -> tuple[SignedDecision | None, str]:
    """The stored proof, or None and why it cannot be read ("" when there is none)."""
    if raw is None:
        return None, ""
    try:
        return SignedDecision.model_validate(_json(raw)), ""
    except (ValueError, ValidationError) as exc:
        first = str(exc).splitlines()[0]
        return None, f"the stored proof cannot be read ({first})"


def stored_decisions(
    approvals: Iterable[tuple[Any, ...]], rejections: Iterable[tuple[Any, ...]]
) -> list[StoredDecision]:
    """``approvals``: (change id, reviewer, note, at, proof, plan digest, manifest digest);
    ``rejections``: (change id, rejection document, plan digest, manifest digest)."""
    out: list[StoredDecision] = []
    for change_id, reviewer, note, at, raw, plan, manifest in approvals:
        proof, unreadable = read_proof(raw)
        out.append(
            StoredDecision(
                change_id, "approve", reviewer, note, _when(at), proof, plan, manifest, unreadable
            )
        )
    for change_id, raw_rejection, plan, manifest in rejections:
        rejection = _json(raw_rejection)
        proof, unreadable = read_proof(rejection.get("proof"))
        out.append(
            StoredDecision(
                change_id,
                "reject",
                str(rejection.get("by")),
                str(rejection.get("reason", "")),
                _when(rejection.get("at")),
                proof,
                plan,
                manifest,
                unreadable,
            )
        )
    return out
