"""What a person record looks like on its way to the model.

Order matters and is the same for every read tool: drop fields the principal may not read
(absent, not blanked, and reported), mask PII unless the use case may see it, then neutralise
untrusted text (invisible characters stripped, long values capped, each marked). The result
says what was withheld, masked and cleaned, so the assistant can tell the user.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from connectors.model import ConsentState, Person
from governance.hygiene import clean_text
from governance.pii import mask_value
from governance.policy import FieldAccess

MAX_TEXT = 500


class Withheld(BaseModel):
    field: str
    reason: str


class Cleaned(BaseModel):
    field: str
    stripped_characters: int
    truncated: bool


class ConsentOut(BaseModel):
    status: str = Field(description="subscribed | opted_out | suppressed | unknown")
    email_opt_out: bool | None
    do_not_call: bool | None
    suppressed: bool
    suppression_reasons: list[str]
    legal_basis: str | None


class PersonOut(BaseModel):
    ref: str
    object: str
    fields: dict[str, Any] = Field(description="Untrusted CRM data, returned as data.")
    consent: ConsentOut
    withheld: list[Withheld] = Field(default_factory=list)
    masked: list[str] = Field(default_factory=list)
    cleaned: list[Cleaned] = Field(default_factory=list)


def consent_out(state: ConsentState) -> ConsentOut:
    return ConsentOut(
        status=state.status,
        email_opt_out=state.email_opt_out,
        do_not_call=state.do_not_call,
        suppressed=state.suppressed,
        suppression_reasons=list(state.suppression_reasons),
        legal_basis=state.legal_basis,
    )


def clean_value(name: str, value: Any, cleaned: list[Cleaned]) -> Any:
    if not isinstance(value, str):
        return value
    result = clean_text(value, MAX_TEXT)
    if result.stripped or result.truncated:
        cleaned.append(
            Cleaned(field=name, stripped_characters=result.stripped, truncated=result.truncated)
        )
    return result.text


def shape_person(
    person: Person, access: FieldAccess, wanted: frozenset[str] | None = None
) -> PersonOut:
    fields: dict[str, Any] = {}
    withheld: list[Withheld] = []
    masked: list[str] = []
    cleaned: list[Cleaned] = []
    for name, value in person.fields.items():
        if wanted is not None and name not in wanted:
            continue
        if not access.can_read(name):
            reason = access.denied.get(name, "not in this principal's readable fields")
            withheld.append(Withheld(field=name, reason=reason))
            continue
        if name in access.pii_fields and not access.unmasked_pii and value is not None:
            value = mask_value(name, value, None)
            masked.append(name)
        fields[name] = clean_value(name, value, cleaned)
    return PersonOut(
        ref=person.ref,
        object=person.object,
        fields=fields,
        consent=consent_out(person.consent),
        withheld=withheld,
        masked=masked,
        cleaned=cleaned,
    )


def display_name(person: Person, access: FieldAccess) -> str:
    """A short label for listings that never leaks a withheld or unmasked PII value."""
    parts = []
    for role in ("first_name", "last_name"):
        value = person.role(role)
        if isinstance(value, str) and value:
            parts.append(value)
    label = clean_text(" ".join(parts), 80).text
    pii_name = any(
        f in access.pii_fields
        for f in person.fields
        if f.lower().endswith(("firstname", "first_name", "lastname", "last_name"))
    )
    if pii_name and not access.unmasked_pii:
        return " ".join(p[:1] + "***" for p in label.split()) or "(no name)"
    return label or "(no name)"
