"""The consent verdict, derived from the vendors' field tables (which fields carry opt-out,
suppression and legal basis) the same way for every client and every emulator."""

from __future__ import annotations

from functools import cache
from typing import Any

from mopsgate.connectors.schema import PERSON_OBJECTS
from mopsgate.crm.records import ConsentState, ConsentStatus

# field role -> the part of the verdict it feeds (consent evidence feeds none: express consent)
_PART = {
    "email_opt_out": "email_opt_out",
    "do_not_call": "do_not_call",
    "legal_basis": "legal_basis",
    "suppressed": "suppression",
    "none": "suppression",
    "suppression_reason": "suppression",
}


def consent_from_fields(connector: str, obj: str, fields: dict[str, Any]) -> ConsentState:
    """Derive the consent verdict from the vendor fields, the same way for emulator and client.

    Unknown consent (no legal basis recorded) is its own status: the floor treats it like an
    opt-out for sends, but reporting must be able to tell the two apart.
    """
    consent_fields, sources = _consent_fields(connector, obj)
    by_role: dict[str, Any] = {}
    evidence: dict[str, Any] = {}
    reasons: list[str] = []
    for name, role in consent_fields:
        value = fields.get(name)
        evidence[name] = value
        by_role.setdefault(role, value)
        if role in ("suppressed", "none") and value is True:
            reasons.append(name)
        if role == "suppression_reason" and value:
            reasons.append(f"{name}={value}")
    opt_out = by_role.get("email_opt_out")
    legal_basis = by_role.get("legal_basis")
    suppressed = bool(reasons)
    status: ConsentStatus
    if opt_out is True:
        status = "opted_out"
    elif suppressed:
        status = "suppressed"
    elif not isinstance(opt_out, bool) or not legal_basis:  # anything but a boolean: unknown
        status = "unknown"
    else:
        status = "subscribed"
    return ConsentState(
        status=status,
        email_opt_out=opt_out if isinstance(opt_out, bool) else None,
        do_not_call=by_role.get("do_not_call")
        if isinstance(by_role.get("do_not_call"), bool)
        else None,
        suppressed=suppressed,
        suppression_reasons=reasons,
        legal_basis=legal_basis if isinstance(legal_basis, str) else None,
        evidence=evidence,
        sources=sources,  # validation copies it: no verdict shares the cached one
    )


@cache
def _consent_fields(
    connector: str, obj: str
) -> tuple[tuple[tuple[str, str], ...], dict[str, list[str]]]:
    """The object's consent fields with their roles, in table order, and per part of the
    verdict the fields it is derived from: decided once, as every record read asks."""
    fields = tuple((s.name, s.role) for s in PERSON_OBJECTS[connector][obj] if s.consent)
    sources: dict[str, list[str]] = {}
    for name, role in fields:
        if (part := _PART.get(role)) is not None:
            sources.setdefault(part, []).append(name)
    return fields, sources
