"""The common MOPs model every connector returns (vendor-apis.md §6, trimmed to what tools use).

Person records keep *vendor* field names in ``fields``: the manifest's field rules name vendor
fields, so allowlists and masking work on exactly what the vendor calls them. The consent verdict
is derived from the vendors' field tables in one place, ``connectors/consent.py``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mopsgate.crm.redact import MAX_MESSAGE, mask_text

T = TypeVar("T")

ConsentStatus = Literal["subscribed", "opted_out", "suppressed", "unknown"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class ConsentState(_Model):
    status: ConsentStatus
    email_opt_out: bool | None
    do_not_call: bool | None
    suppressed: bool
    suppression_reasons: list[str] = Field(default_factory=list)
    legal_basis: str | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)
    # The vendor fields each part was derived from ("email_opt_out", "do_not_call",
    # "suppression", "legal_basis" -> field names), so a reader shows a part only to a
    # principal who may read every field it rests on.
    sources: dict[str, list[str]] = Field(default_factory=dict)

    @property
    def status_sources(self) -> list[str]:
        """The fields the status (and so the verdict) rests on: all but do-not-call."""
        parts = ("email_opt_out", "suppression", "legal_basis")
        return [name for part in parts for name in self.sources.get(part, [])]

    @property
    def sendable(self) -> bool:
        """Only people known to be subscribed may be sent to (unknown consent is not consent)."""
        return self.status == "subscribed"


class Person(_Model):
    ref: str
    object: str
    fields: dict[str, Any]
    consent: ConsentState


class FieldInfo(_Model):
    name: str
    label: str
    type: str
    pii: bool = False
    consent: bool = False
    read_only: bool = False
    lifecycle: bool = False
    picklist: list[str] = Field(default_factory=list)


class PersonList(_Model):
    ref: str
    name: str
    kind: Literal["static", "dynamic", "campaign"]
    size: int | None = None
    writable: bool = True
    description: str | None = None
    created_at: datetime | None = None
    owner_ref: str | None = Field(
        None, description="who owns the list, where the vendor records it (Salesforce)"
    )


class StatusStep(_Model):
    name: str
    step: int
    success: bool


class Campaign(_Model):
    ref: str
    name: str
    kind: Literal["program", "smart_campaign", "marketing_campaign", "crm_campaign"]
    channel: str | None = None
    status: str | None = None
    active: bool | None = None
    triggerable: bool = False
    schedulable: bool = False
    # None: this read could not tell (a listing that leaves it unset to save calls). Unknown is
    # never "no": the floor treats it as a send (fail closed), and get_campaign says.
    sends_email: bool | None = Field(
        None, description="null: not known from this read (get_campaign says); never read as no"
    )
    audience_list_ref: str | None = None
    # False when the campaign may send to lists beyond ``audience_list_ref`` (it names several,
    # or one the connector could not resolve, or this read did not look): the floor then cannot
    # tell which lists feed sends.
    audience_known: bool = Field(
        True,
        description="false when the audience is not (fully) known from this read: "
        "audience_list_ref is then not the whole audience (get_campaign resolves it)",
    )
    status_ladder: list[StatusStep] = Field(default_factory=list)
    member_count: int | None = None


class CampaignMember(_Model):
    campaign_ref: str
    person_ref: str
    status: str | None
    success: bool | None = None
    member_since: datetime | None = None


class Memberships(_Model):
    person_ref: str
    lists: list[PersonList] = Field(default_factory=list)
    campaigns: list[CampaignMember] = Field(default_factory=list)


ActivityType = Literal[
    "email_sent",
    "email_delivered",
    "email_opened",
    "email_clicked",
    "email_bounced",
    "unsubscribed",
    "form_filled",
    "web_visit",
    "field_changed",
    "score_changed",
    "status_changed",
    "list_added",
    "list_removed",
    "campaign_requested",
    "created",
    "other",
]


class Activity(_Model):
    ref: str
    person_ref: str
    type: ActivityType
    vendor_type: str
    occurred_at: datetime
    campaign_ref: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class Owner(_Model):
    ref: str
    name: str
    email: str | None
    active: bool


class ApiBudget(_Model):
    connector: str
    window: str
    used_in_window: int | None
    limit_in_window: int | None
    daily_used: int | None = None
    daily_limit: int | None = None
    calls_made_by_mopsgate: int = 0
    notes: str = ""


class Page(_Model, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class PersonQuery(_Model):
    """Search filters; every one is optional and they combine with AND."""

    object: str | None = None
    email: str | None = None
    name: str | None = None
    company: str | None = None
    list_ref: str | None = None
    lifecycle_stage: str | None = None
    owner_id: str | None = None
    consent: ConsentStatus | None = None


class PersonUpdate(_Model):
    ref: str
    fields: dict[str, Any]


class RecordResult(_Model):
    ref: str
    ok: bool
    code: str | None = None
    message: str | None = None

    @field_validator("message")
    @classmethod
    def _masked(cls, value: str | None) -> str | None:
        """The vendor's words about one record, masked like every vendor message (L-11)."""
        return mask_text(value, MAX_MESSAGE) if value is not None else None
