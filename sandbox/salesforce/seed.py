"""The Salesforce org the emulator starts from, built deterministically from ``seed_data``.

People become Leads (80 %) and Contacts (20 %), static lists become Campaigns of Type 'List'
with a two-step ladder, seed campaigns become Campaigns with their ladders, activities become
Tasks and owners Users. Ids follow ``sandbox.salesforce.ids``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from mopsgate.connectors.salesforce import fields as cat
from mopsgate.sandbox.salesforce import ids
from mopsgate.sandbox.salesforce.rules import add_member, add_task, sf_date, sf_datetime
from mopsgate.sandbox.salesforce.state import OrgState, Record
from mopsgate.sandbox.seed import EPOCH, SeedCampaign, SeedData, SeedList, SeedPerson

LIST_LADDER = (("Member", 10, False), ("Responded", 20, True))
CAMPAIGN_TYPES = {"email": "Email", "webinar": "Webinar", "event": "Trade Show", "nurture": "Email"}
BOUNCE_REASON = "550 5.1.1 mailbox unavailable"
_SUBJECTS: dict[str, str] = {str(k): v for k, v in cat.TASK_SUBJECTS.items()}


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
        "Consent_Evidence__c": p.consent_evidence,
        "Description": p.notes or None,
        "LeadSource": p.lead_source,
        "CreatedDate": sf_datetime(p.created_at),
        "LastModifiedDate": sf_datetime(p.updated_at),
    }
    if not contact:
        rec["Status"] = p.lead_status
    return rec


def load(state: OrgState, seed: SeedData) -> None:
    """Fill an empty org from the seed; seed activity ``idx`` becomes Task ``ids.task_id(idx)``."""
    for o in seed.owners:
        state.insert(
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
        state.insert(ids.person_object(p.idx), person_record(seed.held_by(ids.VENDOR, p)))
    for lst in seed.lists:
        if lst.kind == "static":  # Salesforce has no dynamic list object (ListViews)
            _load_list(state, lst)
    for camp in seed.campaigns:
        _load_campaign(state, camp)
    for a in seed.activities:
        add_task(  # seed activity idx → Task ids.task_id(idx)
            state,
            ids.person_id(a.person_idx),
            ids.campaign_id(a.campaign_idx) if a.campaign_idx is not None else None,
            _SUBJECTS.get(a.type, "Other"),
            a.occurred_at,
        )


def _campaign(
    state: OrgState,
    cid: str,
    name: str,
    type_: str,
    active: bool,
    owner: int,
    created: datetime,
    ladder: tuple[tuple[str, int, bool], ...],
    description: str | None,
) -> None:
    state.insert(
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
        state.insert(
            "CampaignMemberStatus",
            {
                "CampaignId": cid,
                "Label": label,
                "SortOrder": order,
                "HasResponded": responded,
                "IsDefault": label == default,
            },
        )


def _load_list(state: OrgState, lst: SeedList) -> None:
    cid = ids.list_id(lst.idx)
    created = EPOCH + timedelta(days=7 * lst.idx)
    owner = 3 if "DO NOT DELETE" in lst.name else 0  # legacy list owned by a leaver
    _campaign(
        state, cid, lst.name, "List", True, owner, created, LIST_LADDER, lst.description or None
    )
    for idx in lst.members:
        add_member(state, cid, ids.person_id(idx), LIST_LADDER[0][0], created)


def _load_campaign(state: OrgState, camp: SeedCampaign) -> None:
    cid = ids.campaign_id(camp.idx)
    created = EPOCH + timedelta(days=400 + 30 * camp.idx)
    _campaign(
        state,
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
        add_member(state, cid, ids.person_id(idx), status, created)
