"""Checks a plan must pass before it is stored: vendor validity of field values, the
manifest's writable fields, and the compliance floor on consent.

Pure functions over data already read, so the same rules apply at plan and at apply time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from mopsgate.crm.records import FieldInfo, Person
from mopsgate.governance.errors import FloorViolation, InvalidInput, NotPermitted
from mopsgate.governance.policy import FieldAccess

EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{2,}$")


def check_value(info: FieldInfo, value: object) -> str | None:
    """Why ``value`` is not valid for this vendor field, or None."""
    if value is None:
        return None
    kind = info.type
    if kind == "boolean" and not isinstance(value, bool):
        return f"{info.name} takes true or false"
    if kind in ("integer",) and (isinstance(value, bool) or not isinstance(value, int)):
        return f"{info.name} takes a whole number"
    if kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"{info.name} takes a number"
    if kind in ("string", "text", "phone", "email", "picklist", "reference") and not isinstance(
        value, str
    ):
        return f"{info.name} takes text"
    if kind == "email" and isinstance(value, str) and not EMAIL.match(value):
        return f"{value!r} is not an email address"
    if kind == "picklist" and info.picklist and value not in info.picklist:
        return f"{value!r} is not a value of {info.name}; allowed: {', '.join(info.picklist)}"
    if isinstance(value, str) and len(value) > 2000:
        return f"{info.name} is limited to 2000 characters"
    return None


def check_update_fields(
    fields: Iterable[str],
    values: Mapping[str, object],
    described: dict[str, FieldInfo],
    access: FieldAccess,
    where: str,
) -> None:
    """Refuse the whole plan on the first class of problem, listing every field it affects."""
    names = sorted(set(fields))
    unknown = [f for f in names if f not in described]
    if unknown:
        raise InvalidInput(
            f"unknown field(s) on {where}: {', '.join(unknown)}.",
            hint="Call describe_fields to see the fields that exist.",
        )
    consent = [f for f in names if described[f].consent]
    if consent:
        raise FloorViolation(
            f"{', '.join(consent)}: consent fields cannot be changed by a field update.",
            hint="To record an opt-out use propose_opt_out. Re-subscribing someone is never "
            "possible through mopsgate.",
            rule_id="compliance-floor",
        )
    read_only = [f for f in names if described[f].read_only]
    if read_only:
        raise InvalidInput(
            f"read-only field(s) on {where}: {', '.join(read_only)}.",
            hint="The vendor computes these; they cannot be written.",
        )
    not_writable = [f for f in names if f not in access.writable]
    if not_writable:
        raise NotPermitted(
            f"you may not change {', '.join(not_writable)} on {where}.",
            hint="Call describe_fields (writable_by_you) or ask the manifest owner to add them "
            "to write_fields.",
            rule_id=",".join(access.rule_ids) or "default-deny",
        )
    problems = [p for f in names if (p := check_value(described[f], values.get(f)))]
    if problems:
        raise InvalidInput(
            "invalid value(s): " + "; ".join(problems) + ".",
            hint="Correct the values and propose again.",
        )


def consent_blocks(person: Person) -> tuple[str, str] | None:
    """(reason_code, reason) when the floor forbids sending to / enrolling this person."""
    state = person.consent
    if state.status == "subscribed":
        return None
    if state.status == "opted_out":
        return "opted_out", "opted out of email"
    if state.status == "suppressed":
        return "suppressed", "suppressed: " + ", ".join(state.suppression_reasons)
    return "consent_unknown", "consent unknown: no legal basis recorded"
