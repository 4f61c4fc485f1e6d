"""The consent verdict, derived from the vendors' field tables (which fields carry opt-out,
suppression and legal basis) the same way for every client and every emulator."""

from __future__ import annotations

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
    specs = PERSON_OBJECTS[connector][obj]
    by_role: dict[str, Any] = {}
    evidence: dict[str, Any] = {}
    reasons: list[str] = []
    sources: dict[str, list[str]] = {}
    for spec in specs:
        if spec.consent:
            value = fields.get(spec.name)
            evidence[spec.name] = value
            by_role.setdefault(spec.role, value)
            if (part := _PART.get(spec.role)) is not None:
                sources.setdefault(part, []).append(spec.name)
            if spec.role in ("suppressed", "none") and value is True:
                reasons.append(spec.name)
            if spec.role == "suppression_reason" and value:
                reasons.append(f"{spec.name}={value}")
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
        sources=sources,
    )
