"""The shapes of the synthetic seed data (see ``sandbox.seed`` for how it is made)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class SeedOwner:
    idx: int
    name: str
    email: str
    active: bool


@dataclass(frozen=True)
class SeedPerson:
    idx: int
    email: str
    first_name: str
    last_name: str
    company: str
    title: str
    phone: str
    country: str
    city: str
    street: str
    lifecycle_stage: str
    lead_status: str
    score: int
    owner_idx: int
    email_opt_out: bool
    do_not_call: bool
    suppressed: bool
    legal_basis: str | None  # None = consent unknown
    notes: str
    lead_source: str
    created_at: datetime
    updated_at: datetime
    duplicate_of: int | None = None
    # What shows the consent was given (a form, a date): the floor asks for it in jurisdictions
    # that require express consent (CASL in Canada) before anyone there may be emailed.
    consent_evidence: str | None = None

    @property
    def consent_status(self) -> str:
        if self.email_opt_out:
            return "opted_out"
        if self.suppressed:
            return "suppressed"
        if not self.legal_basis:
            return "unknown"
        return "subscribed"


@dataclass(frozen=True)
class SeedList:
    idx: int
    name: str
    kind: str  # "static" | "dynamic"
    members: tuple[int, ...]
    description: str = ""


@dataclass(frozen=True)
class SeedCampaign:
    idx: int
    name: str
    channel: str  # "email" | "webinar" | "event" | "nurture"
    sends_email: bool
    triggerable: bool
    schedulable: bool
    audience_list: int | None
    ladder: tuple[tuple[str, int, bool], ...]
    members: tuple[tuple[int, str], ...]  # (person idx, status)
    active: bool = True


@dataclass(frozen=True)
class SeedActivity:
    idx: int
    person_idx: int
    type: str
    occurred_at: datetime
    campaign_idx: int | None


@dataclass(frozen=True)
class SeedDrift:
    """One person held differently by one vendor: the systems disagree about them, as they do
    when a sync broke or someone edited one system by hand."""

    idx: int
    vendor: str
    kind: str  # "consent" | "lifecycle_stage" | "owner"
    changes: tuple[tuple[str, Any], ...]  # SeedPerson field -> the value this vendor holds


@dataclass(frozen=True)
class SeedData:
    owners: tuple[SeedOwner, ...]
    people: tuple[SeedPerson, ...]
    lists: tuple[SeedList, ...]
    campaigns: tuple[SeedCampaign, ...]
    activities: tuple[SeedActivity, ...]
    traps: dict[str, list[int]] = field(default_factory=dict)
    drift: tuple[SeedDrift, ...] = ()

    def held_by(self, vendor: str, person: SeedPerson) -> SeedPerson:
        """``person`` as ``vendor`` holds them: the seed person with that vendor's drift."""
        changes = {
            name: value
            for d in self.drift
            if d.idx == person.idx and d.vendor == vendor
            for name, value in d.changes
        }
        return replace(person, **changes) if changes else person
