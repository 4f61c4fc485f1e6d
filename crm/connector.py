"""The one protocol every vendor client implements, made of one protocol per job.

Tools and the governance layer speak only ``Connector``. Each vendor client is composed of
parts that do one job each (people, lists, campaigns, activities, account, writes), and each
part implements the matching protocol below, so a reader finds a vendor's ``list_members`` in
that vendor's ``lists.py``. Operations a vendor cannot do raise ``NotSupportedByVendor`` (never
a silent no-op), so a tool can tell the assistant so plainly. Reads that feed a plan
(``get_people``) are batched so a 10,000-person plan costs the minimum number of vendor calls.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from mopsgate.crm.capabilities import Capabilities
from mopsgate.crm.records import (
    Activity,
    ActivityType,
    ApiBudget,
    Campaign,
    CampaignMember,
    FieldInfo,
    Memberships,
    Owner,
    Page,
    Person,
    PersonList,
    PersonQuery,
    PersonUpdate,
    RecordResult,
)


class PeopleReads(Protocol):
    async def search_people(
        self, query: PersonQuery, *, cursor: str | None = None, limit: int = 50
    ) -> Page[Person]: ...

    async def get_person(self, ref: str) -> Person: ...

    async def get_people(self, refs: Sequence[str]) -> dict[str, Person]:
        """Batch read; refs that do not exist are absent from the result."""
        ...

    async def people_by_email(self, emails: Sequence[str]) -> list[Person]:
        """Every person record, of every person object, whose email is one of ``emails``,
        compared without regard to case as the vendor compares them. The compliance floor
        judges a person by every record of their address (an opted-out duplicate opts the
        person out), so this is batched at the vendor's limits and read to the last page: a
        record left out would be a person sent to against their opt-out."""
        ...

    async def describe_fields(self, obj: str) -> list[FieldInfo]: ...


class ListReads(Protocol):
    async def list_lists(
        self, *, cursor: str | None = None, limit: int = 50, name_contains: str | None = None
    ) -> Page[PersonList]: ...

    async def get_list(self, ref: str) -> PersonList: ...

    async def list_members(
        self, list_ref: str, *, cursor: str | None = None, limit: int = 100
    ) -> Page[Person]: ...

    async def list_member_ids(
        self, list_ref: str, *, cursor: str | None = None, limit: int = 100
    ) -> Page[str]:
        """One page of the list's member references, without their records: what a plan and
        its apply decide membership on, at one call per member page (``list_members`` also
        reads the records where the vendor's membership page has only ids)."""
        ...

    async def person_memberships(self, ref: str) -> Memberships: ...


class CampaignReads(Protocol):
    async def list_campaigns(
        self, *, cursor: str | None = None, limit: int = 50
    ) -> Page[Campaign]: ...

    async def get_campaign(self, ref: str, *, audience: bool = True) -> Campaign:
        """Everything about one campaign. ``audience=False``: the caller does not need whom
        it sends to (a trigger names its people, a status write its members), so a vendor
        that reads the audience in calls of its own skips them (``audience_known`` false)."""
        ...

    async def audience_page(self, *, cursor: str | None = None, limit: int = 50) -> Page[Campaign]:
        """One page of the campaign listing as the send-list floor reads it: on every campaign
        not known to be inactive, whether it sends email (``sends_email``) is settled, and on
        each that may, the list it sends to (``audience_list_ref``, ``audience_known``): read
        where the listing leaves them out, in as few calls as the vendor allows (the floor reads
        this at every list add's plan and apply). Other fields may be left out (ladders,
        member counts); ``get_campaign`` reads everything."""
        ...

    async def campaign_members(
        self, ref: str, *, cursor: str | None = None, limit: int = 200
    ) -> Page[CampaignMember]: ...


class ActivityReads(Protocol):
    async def get_activities(
        self,
        *,
        person_ref: str | None = None,
        campaign_ref: str | None = None,
        types: Sequence[ActivityType] = (),
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: str | None = None,
        limit: int = 100,
    ) -> Page[Activity]: ...


class AccountReads(Protocol):
    async def list_owners(self) -> list[Owner]: ...

    async def owner_record_counts(self, objects: Sequence[str] | None = None) -> dict[str, int]:
        """Owner reference -> how many person records (of ``objects``, default every person
        object) it owns, as the vendor counts them (an aggregate query, a search total, or
        paging by owner where the vendor offers nothing better). Owners of no record are
        absent."""
        ...

    async def api_budget(self) -> ApiBudget: ...


class Writes(Protocol):
    """Only ever called by apply, after approval."""

    async def update_people(self, updates: Sequence[PersonUpdate]) -> list[RecordResult]: ...

    async def add_to_list(
        self, list_ref: str, person_refs: Sequence[str]
    ) -> list[RecordResult]: ...

    async def remove_from_list(
        self, list_ref: str, person_refs: Sequence[str]
    ) -> list[RecordResult]: ...

    async def set_campaign_status(
        self, campaign_ref: str, person_refs: Sequence[str], status: str
    ) -> list[RecordResult]: ...

    async def trigger_campaign(
        self, campaign_ref: str, person_refs: Sequence[str], tokens: dict[str, str]
    ) -> list[RecordResult]: ...

    async def schedule_campaign(
        self, campaign_ref: str, run_at: datetime, tokens: dict[str, str]
    ) -> RecordResult: ...

    async def opt_out(self, person_refs: Sequence[str]) -> list[RecordResult]:
        """Set the global email opt-out. There is deliberately no opt-in counterpart."""
        ...

    async def delete_people(self, person_refs: Sequence[str]) -> list[RecordResult]: ...

    async def archive_list(self, list_ref: str) -> RecordResult:
        """Take a list out of use: Marketo deletes the static list, HubSpot deletes it
        (restorable in HubSpot for 90 days), Salesforce deactivates the Campaign. The people
        in it stay."""
        ...

    async def merge_people(
        self, survivor_ref: str, loser_refs: Sequence[str], fields: dict[str, object]
    ) -> list[RecordResult]:
        """Merge ``loser_refs`` into ``survivor_ref`` with the vendor's merge endpoint, after
        writing ``fields`` (values chosen from the losers) on the survivor. The losers are
        deleted by the vendor: there is no undo. One result per record, survivor first."""
        ...


@runtime_checkable
class Connector(
    PeopleReads, ListReads, CampaignReads, ActivityReads, AccountReads, Writes, Protocol
):
    name: str
    person_objects: tuple[str, ...]
    capabilities: Capabilities  # what the vendor allows: batch and page sizes, sends

    def role_value(self, person: Person, role: str) -> object:
        """The value of the vendor field that plays ``role`` (``email``, ``owner_id``, ...) on
        this person's object: the vendor knows its own field table, the core does not."""
        ...

    def common_value(self, person: Person, role: str) -> object:
        """``role_value`` in the common model's words (HubSpot's 'marketingqualifiedlead' is
        'mql'; an owner field's id is the owner's reference), so one person's records on
        different vendors compare by meaning rather than by spelling."""
        ...

    async def aclose(self) -> None: ...
