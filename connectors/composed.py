"""A ``Connector`` assembled from per-job parts.

Every vendor client is built the same way: one session (the vendor's ``VendorHTTP`` with its
auth, limits and error mapper) shared by six parts, one per job of the protocol. This class only
routes each protocol call to the part that does that job, so the routing is written once and a
vendor client is its constructor: which parts, over which session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from typing import ClassVar, TypeVar

from mopsgate.connectors.http import VendorHTTP, restrict_hosts
from mopsgate.connectors.schema import PERSON_OBJECTS
from mopsgate.crm.capabilities import Capabilities
from mopsgate.crm.connector import (
    AccountReads,
    ActivityReads,
    CampaignReads,
    ListReads,
    PeopleReads,
    Writes,
)
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
from mopsgate.crm.refs import make_ref

C = TypeVar("C", bound="ComposedConnector")


@cache
def _field_of(connector: str, obj: str, role: str) -> str | None:
    """The field holding ``role`` on the object (looked up once: a scan asks per record)."""
    spec = next((s for s in PERSON_OBJECTS[connector][obj] if s.role == role), None)
    return spec.name if spec is not None else None


def restricted(client: C, env: Mapping[str, str]) -> C:
    """A production client built from the environment: it may only call its vendor's
    documented hosts and those the admin lists (``connectors.hosts``)."""
    restrict_hosts(client.http, env)
    return client


class ComposedConnector:
    name: str
    person_objects: tuple[str, ...]
    capabilities: Capabilities
    # role -> vendor value -> the common model's value, where the vendor spells it otherwise
    to_common: ClassVar[Mapping[str, Mapping[str, str]]] = {}
    owner_object: ClassVar[str] = "owner"  # the object an owner reference names

    def __init__(
        self,
        http: VendorHTTP,
        *,
        people: PeopleReads,
        lists: ListReads,
        campaigns: CampaignReads,
        activities: ActivityReads,
        account: AccountReads,
        writes: Writes,
    ) -> None:
        self.http = http
        self.people = people
        self.lists = lists
        self.campaigns = campaigns
        self.activities = activities
        self.account = account
        self.writes = writes

    async def aclose(self) -> None:
        await self.http.aclose()

    def role_value(self, person: Person, role: str) -> object:
        name = _field_of(self.name, person.object, role)
        return person.fields.get(name) if name is not None else None

    def common_value(self, person: Person, role: str) -> object:
        value = self.role_value(person, role)
        if value is None or value == "":
            return None
        if role == "owner_id":
            return make_ref(self.name, self.owner_object, str(value))
        return self.to_common.get(role, {}).get(str(value), value)

    # people -------------------------------------------------------------------------------
    async def search_people(
        self, query: PersonQuery, *, cursor: str | None = None, limit: int = 50
    ) -> Page[Person]:
        return await self.people.search_people(query, cursor=cursor, limit=limit)

    async def get_person(self, ref: str) -> Person:
        return await self.people.get_person(ref)

    async def get_people(self, refs: Sequence[str]) -> dict[str, Person]:
        return await self.people.get_people(refs)

    async def people_by_email(self, emails: Sequence[str]) -> list[Person]:
        return await self.people.people_by_email(emails)

    async def describe_fields(self, obj: str) -> list[FieldInfo]:
        return await self.people.describe_fields(obj)

    # lists --------------------------------------------------------------------------------
    async def list_lists(
        self, *, cursor: str | None = None, limit: int = 50, name_contains: str | None = None
    ) -> Page[PersonList]:
        return await self.lists.list_lists(cursor=cursor, limit=limit, name_contains=name_contains)

    async def get_list(self, ref: str) -> PersonList:
        return await self.lists.get_list(ref)

    async def list_members(
        self, list_ref: str, *, cursor: str | None = None, limit: int = 100
    ) -> Page[Person]:
        return await self.lists.list_members(list_ref, cursor=cursor, limit=limit)

    async def list_member_ids(
        self, list_ref: str, *, cursor: str | None = None, limit: int = 100
    ) -> Page[str]:
        return await self.lists.list_member_ids(list_ref, cursor=cursor, limit=limit)

    async def person_memberships(self, ref: str) -> Memberships:
        return await self.lists.person_memberships(ref)

    # campaigns ----------------------------------------------------------------------------
    async def list_campaigns(self, *, cursor: str | None = None, limit: int = 50) -> Page[Campaign]:
        return await self.campaigns.list_campaigns(cursor=cursor, limit=limit)

    async def get_campaign(self, ref: str, *, audience: bool = True) -> Campaign:
        return await self.campaigns.get_campaign(ref, audience=audience)

    async def audience_page(self, *, cursor: str | None = None, limit: int = 50) -> Page[Campaign]:
        return await self.campaigns.audience_page(cursor=cursor, limit=limit)

    async def campaign_members(
        self, ref: str, *, cursor: str | None = None, limit: int = 200
    ) -> Page[CampaignMember]:
        return await self.campaigns.campaign_members(ref, cursor=cursor, limit=limit)

    # activities, owners, budget -----------------------------------------------------------
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
    ) -> Page[Activity]:
        return await self.activities.get_activities(
            person_ref=person_ref,
            campaign_ref=campaign_ref,
            types=types,
            since=since,
            until=until,
            cursor=cursor,
            limit=limit,
        )

    async def list_owners(self) -> list[Owner]:
        return await self.account.list_owners()

    async def owner_record_counts(self, objects: Sequence[str] | None = None) -> dict[str, int]:
        return await self.account.owner_record_counts(objects)

    async def api_budget(self) -> ApiBudget:
        return await self.account.api_budget()

    # writes -------------------------------------------------------------------------------
    async def update_people(self, updates: Sequence[PersonUpdate]) -> list[RecordResult]:
        return await self.writes.update_people(updates)

    async def add_to_list(self, list_ref: str, person_refs: Sequence[str]) -> list[RecordResult]:
        return await self.writes.add_to_list(list_ref, person_refs)

    async def remove_from_list(
        self, list_ref: str, person_refs: Sequence[str]
    ) -> list[RecordResult]:
        return await self.writes.remove_from_list(list_ref, person_refs)

    async def set_campaign_status(
        self, campaign_ref: str, person_refs: Sequence[str], status: str
    ) -> list[RecordResult]:
        return await self.writes.set_campaign_status(campaign_ref, person_refs, status)

    async def trigger_campaign(
        self, campaign_ref: str, person_refs: Sequence[str], tokens: dict[str, str]
    ) -> list[RecordResult]:
        return await self.writes.trigger_campaign(campaign_ref, person_refs, tokens)

    async def schedule_campaign(
        self, campaign_ref: str, run_at: datetime, tokens: dict[str, str]
    ) -> RecordResult:
        return await self.writes.schedule_campaign(campaign_ref, run_at, tokens)

    async def opt_out(self, person_refs: Sequence[str]) -> list[RecordResult]:
        return await self.writes.opt_out(person_refs)

    async def delete_people(self, person_refs: Sequence[str]) -> list[RecordResult]:
        return await self.writes.delete_people(person_refs)

    async def archive_list(self, list_ref: str) -> RecordResult:
        return await self.writes.archive_list(list_ref)

    async def merge_people(
        self, survivor_ref: str, loser_refs: Sequence[str], fields: dict[str, object]
    ) -> list[RecordResult]:
        return await self.writes.merge_people(survivor_ref, loser_refs, fields)
