"""In-memory org behind the Salesforce emulator, built deterministically from ``seed_data``.

Records are plain dicts keyed by object and id. Foreign keys that queries filter on
(CampaignMember.CampaignId/LeadId/ContactId, CampaignMemberStatus.CampaignId, Task.WhoId/WhatId)
are indexed, and roll-ups (Campaign.NumberOfLeads...) and CampaignMember copies of person fields
are computed on read, so they can never drift from the membership rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from mopsgate.connectors.salesforce import fields as cat
from mopsgate.sandbox.salesforce import ids
from mopsgate.sandbox.seed import EPOCH, SeedCampaign, SeedData, SeedList, SeedPerson

Record = dict[str, Any]

LIST_LADDER = (("Member", 10, False), ("Responded", 20, True))
CAMPAIGN_TYPES = {"email": "Email", "webinar": "Webinar", "event": "Trade Show", "nurture": "Email"}
BOUNCE_REASON = "550 5.1.1 mailbox unavailable"
_INDEXED = {
    ("CampaignMember", "CampaignId"),
    ("CampaignMember", "LeadId"),
    ("CampaignMember", "ContactId"),
    ("CampaignMemberStatus", "CampaignId"),
    ("Task", "WhoId"),
    ("Task", "WhatId"),
}
_SUBJECTS: dict[str, str] = {str(k): v for k, v in cat.TASK_SUBJECTS.items()}
_MEMBER_COPIES = ("Email", "FirstName", "LastName", "HasOptedOutOfEmail", "DoNotCall")


def sf_datetime(dt: datetime) -> str:
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def sf_date(d: date) -> str:
    return d.isoformat()


def person_record(p: SeedPerson) -> Record:
    """Field values per the schema roles, with Salesforce's empty-string-is-null habit."""
    obj = ids.person_object(p.idx)
    contact = obj == ids.CONTACT
    rec: Record = {
        "Id": ids.person_id(p.idx),
        "Email": p.email,
        "FirstName": p.first_name,
        "LastName": p.last_name,
        ("Company__c" if contact else "Company"): p.company,
        "Title": p.title,
        "Phone": p.phone,
        ("MailingCountry" if contact else "Country"): p.country,
        ("MailingCity" if contact else "City"): p.city,
        ("MailingStreet" if contact else "Street"): p.street,
        "Lifecycle_Stage__c": p.lifecycle_stage,
        "Lead_Score__c": float(p.score),
        "OwnerId": ids.owner_id(p.owner_idx),
        "HasOptedOutOfEmail": p.email_opt_out,
        "DoNotCall": p.do_not_call,
        "EmailBouncedReason": BOUNCE_REASON if p.suppressed else None,
        "Consent_Basis__c": p.legal_basis or None,
        "Description": p.notes or None,
        "LeadSource": p.lead_source,
        "CreatedDate": sf_datetime(p.created_at),
        "LastModifiedDate": sf_datetime(p.updated_at),
    }
    if not contact:
        rec["Status"] = p.lead_status
    return rec


class SalesforceState:
    def __init__(self, seed: SeedData, now: Callable[[], datetime]) -> None:
        self._now = now
        self.objects: dict[str, dict[str, Record]] = {o: {} for o in cat.all_objects()}
        self.index: dict[tuple[str, str], dict[str, dict[str, None]]] = {k: {} for k in _INDEXED}
        self.deleted: set[str] = set()
        self.counters = {"CampaignMember": 0, "Task": 0, "CampaignMemberStatus": 0}
        self._load(seed)

    # Source protocol (for soql_eval) -------------------------------------------------------
    def rows(self, obj: str) -> Iterable[Record]:
        return self.objects[obj].values()

    def by_ids(self, obj: str, ids_: Iterable[str]) -> list[Record]:
        table = self.objects[obj]
        return [table[i] for i in dict.fromkeys(ids_) if i in table]

    def by_index(self, obj: str, field: str, value: str) -> list[Record] | None:
        idx = self.index.get((obj, field))
        if idx is None:
            return None
        return self.by_ids(obj, idx.get(value, {}))

    def now(self) -> datetime:
        return self._now()

    def get(self, obj: str, rec: Record, path: str) -> Any:
        if "." in path:
            rel, _, field = path.partition(".")
            fk, target = cat.RELATIONSHIPS[obj][rel]
            parent = self.objects[target].get(rec.get(fk) or "")
            return None if parent is None else self.get(target, parent, field)
        if path in rec:
            return rec[path]
        return self._computed(obj, rec, path)

    def _computed(self, obj: str, rec: Record, field: str) -> Any:
        if field == cat.NAME_FIELD and cat.is_person(obj):
            return " ".join(x for x in (rec.get("FirstName"), rec.get("LastName")) if x)
        if obj == "CampaignMember":
            pid = rec.get("LeadId") or rec.get("ContactId")
            if field == "LeadOrContactId":
                return pid
            person = self.person(pid) if pid else None
            return person.get(field) if person and field in _MEMBER_COPIES else None
        if obj == "Campaign" and field.startswith("NumberOf"):
            members = self.by_index("CampaignMember", "CampaignId", rec["Id"]) or []
            if field == "NumberOfResponses":
                return sum(1 for m in members if m["HasResponded"])
            key = "LeadId" if field == "NumberOfLeads" else "ContactId"
            return sum(1 for m in members if m.get(key))
        return None

    # lookups -------------------------------------------------------------------------------
    def person(self, native_id: str) -> Record | None:
        obj = ids.object_of(native_id)
        return self.objects[obj].get(native_id) if obj in ids.PERSON_OBJECTS else None

    def ladder(self, campaign_id: str) -> list[Record]:
        rows = self.by_index("CampaignMemberStatus", "CampaignId", campaign_id) or []
        return sorted(rows, key=lambda r: int(r["SortOrder"]))

    def member(self, campaign_id: str, person_id: str) -> Record | None:
        key = "ContactId" if ids.object_of(person_id) == ids.CONTACT else "LeadId"
        for m in self.by_index("CampaignMember", key, person_id) or []:
            if m["CampaignId"] == campaign_id:
                return m
        return None

    # mutation ------------------------------------------------------------------------------
    def insert(self, obj: str, rec: Record) -> Record:
        self.objects[obj][rec["Id"]] = rec
        for (o, field), idx in self.index.items():
            if o == obj and rec.get(field):
                idx.setdefault(rec[field], {})[rec["Id"]] = None
        return rec

    def remove(self, native_id: str) -> bool:
        obj = ids.object_of(native_id)
        rec = self.objects[obj].pop(native_id, None) if obj in self.objects else None
        if obj is None or rec is None:
            return False
        self.deleted.add(native_id)
        for (o, field), idx in self.index.items():
            if o == obj and rec.get(field):
                idx.get(rec[field], {}).pop(native_id, None)
        if obj in ids.PERSON_OBJECTS:  # campaign members go with the person, as in a real org
            key = "ContactId" if obj == ids.CONTACT else "LeadId"
            for m in list(self.by_index("CampaignMember", key, native_id) or []):
                self.remove(m["Id"])
        return True

    def next_id(self, obj: str) -> str:
        n = self.counters[obj]
        self.counters[obj] = n + 1
        make = {
            "CampaignMember": ids.member_id,
            "Task": ids.task_id,
            "CampaignMemberStatus": ids.status_id,
        }[obj]
        return make(n)

    def add_member(
        self, campaign_id: str, person_id: str, status: str, created: datetime | None = None
    ) -> Record:
        ladder = {r["Label"]: r for r in self.ladder(campaign_id)}
        responded = bool(ladder[status]["HasResponded"]) if status in ladder else False
        when = created or self._now()
        contact = ids.object_of(person_id) == ids.CONTACT
        return self.insert(
            "CampaignMember",
            {
                "Id": self.next_id("CampaignMember"),
                "CampaignId": campaign_id,
                "LeadId": None if contact else person_id,
                "ContactId": person_id if contact else None,
                "Status": status,
                "HasResponded": responded,
                "FirstRespondedDate": sf_date(when.date()) if responded else None,
                "CreatedDate": sf_datetime(when),
            },
        )

    def set_member_status(self, member: Record, status: str) -> None:
        ladder = {r["Label"]: r for r in self.ladder(member["CampaignId"])}
        member["Status"] = status
        member["HasResponded"] = bool(ladder[status]["HasResponded"])
        if member["HasResponded"] and not member["FirstRespondedDate"]:
            member["FirstRespondedDate"] = sf_date(self._now().date())

    def add_task(
        self,
        who: str | None,
        what: str | None,
        subject: str,
        when: datetime | None = None,
        description: str | None = None,
    ) -> Record:
        at = when or self._now()
        person = self.person(who) if who else None
        return self.insert(
            "Task",
            {
                "Id": self.next_id("Task"),
                "WhoId": who,
                "WhatId": what,
                "Subject": subject,
                "Type": "Email" if subject.startswith("Email") else "Other",
                "TaskSubtype": "Email" if subject.startswith("Email") else "Task",
                "Status": "Completed",
                "ActivityDate": sf_date(at.date()),
                "CreatedDate": sf_datetime(at),
                "OwnerId": person.get("OwnerId") if person else None,
                "Description": description,
            },
        )

    # seed ----------------------------------------------------------------------------------
    def _load(self, seed: SeedData) -> None:
        for o in seed.owners:
            self.insert(
                "User",
                {
                    "Id": ids.owner_id(o.idx),
                    "Name": o.name,
                    "Email": o.email,
                    "Username": o.email,
                    "IsActive": o.active,
                },
            )
        for p in seed.people:
            self.insert(ids.person_object(p.idx), person_record(p))
        for lst in seed.lists:
            if lst.kind == "static":  # Salesforce has no dynamic list object (ListViews)
                self._load_list(lst)
        for camp in seed.campaigns:
            self._load_campaign(camp)
        for a in seed.activities:
            self.add_task(  # seed activity idx → Task ids.task_id(idx)
                ids.person_id(a.person_idx),
                ids.campaign_id(a.campaign_idx) if a.campaign_idx is not None else None,
                _SUBJECTS.get(a.type, "Other"),
                a.occurred_at,
            )

    def _campaign(
        self,
        cid: str,
        name: str,
        type_: str,
        active: bool,
        owner: int,
        created: datetime,
        ladder: tuple[tuple[str, int, bool], ...],
        description: str | None,
    ) -> None:
        self.insert(
            "Campaign",
            {
                "Id": cid,
                "Name": name,
                "Type": type_,
                "Status": "In Progress" if active else "Completed",
                "IsActive": active,
                "Description": description,
                "StartDate": sf_date(created.date()),
                "EndDate": None,
                "OwnerId": ids.owner_id(owner),
                "ParentId": None,
                "NumberSent": 0,
                "CreatedDate": sf_datetime(created),
                "LastModifiedDate": sf_datetime(created),
            },
        )
        default = min(ladder, key=lambda s: s[1])[0]
        for label, order, responded in ladder:
            self.insert(
                "CampaignMemberStatus",
                {
                    "Id": self.next_id("CampaignMemberStatus"),
                    "CampaignId": cid,
                    "Label": label,
                    "SortOrder": order,
                    "HasResponded": responded,
                    "IsDefault": label == default,
                },
            )

    def _load_list(self, lst: SeedList) -> None:
        cid = ids.list_id(lst.idx)
        created = EPOCH + timedelta(days=7 * lst.idx)
        owner = 3 if "DO NOT DELETE" in lst.name else 0  # legacy list owned by a leaver
        self._campaign(
            cid, lst.name, "List", True, owner, created, LIST_LADDER, lst.description or None
        )
        for idx in lst.members:
            self.add_member(cid, ids.person_id(idx), LIST_LADDER[0][0], created)

    def _load_campaign(self, camp: SeedCampaign) -> None:
        cid = ids.campaign_id(camp.idx)
        created = EPOCH + timedelta(days=400 + 30 * camp.idx)
        self._campaign(
            cid,
            camp.name,
            CAMPAIGN_TYPES.get(camp.channel, "Other"),
            camp.active,
            camp.idx % 3,
            created,
            camp.ladder,
            None,
        )
        for idx, status in camp.members:
            self.add_member(cid, ids.person_id(idx), status, created)
