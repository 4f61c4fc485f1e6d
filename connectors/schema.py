"""Field catalogue of the person-like objects of each vendor, and how they map to the model.

One table serves three masters: the emulators' describe endpoints, the clients' mapping of
vendor records onto the common model, and the manifest validator (which rejects rules naming a
field that does not exist). Keeping them in one place is what stops the three from drifting.
No HTTP here, so the governance core may be handed a catalogue built from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FieldType = Literal[
    "string",
    "email",
    "phone",
    "integer",
    "float",
    "boolean",
    "datetime",
    "reference",
    "text",
    "picklist",
]

# Canonical names used by the common model (Person.fields keys are vendor names; these are the
# roles a vendor field plays).
Role = Literal[
    "id",
    "email",
    "first_name",
    "last_name",
    "company",
    "title",
    "phone",
    "country",
    "city",
    "street",
    "lifecycle_stage",
    "lead_status",
    "score",
    "owner_id",
    "email_opt_out",
    "do_not_call",
    "suppressed",
    "suppression_reason",
    "legal_basis",
    "consent_evidence",
    "notes",
    "lead_source",
    "created_at",
    "updated_at",
    "none",
]


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: FieldType
    role: Role = "none"
    pii: bool = False
    consent: bool = False
    read_only: bool = False
    lifecycle: bool = False
    picklist: tuple[str, ...] = ()


def _f(name: str, label: str, type_: FieldType, role: Role = "none", **kw: object) -> FieldSpec:
    return FieldSpec(name, label, type_, role, **kw)  # type: ignore[arg-type]


LIFECYCLE_STAGES = ("subscriber", "lead", "mql", "sql", "opportunity", "customer", "other")
LEAD_STATUSES = ("New", "Working", "Nurture", "Qualified", "Unqualified")

MARKETO_LEAD: tuple[FieldSpec, ...] = (
    _f("id", "Id", "integer", "id", read_only=True),
    _f("email", "Email Address", "email", "email", pii=True),
    _f("firstName", "First Name", "string", "first_name", pii=True),
    _f("lastName", "Last Name", "string", "last_name", pii=True),
    _f("company", "Company Name", "string", "company"),
    _f("title", "Job Title", "string", "title"),
    _f("phone", "Phone Number", "phone", "phone", pii=True),
    _f("country", "Country", "string", "country"),
    _f("city", "City", "string", "city"),
    _f("address", "Address", "string", "street", pii=True),
    _f(
        "mktoLifecycleStage",
        "Lifecycle Stage",
        "picklist",
        "lifecycle_stage",
        lifecycle=True,
        picklist=LIFECYCLE_STAGES,
    ),
    _f(
        "leadStatus",
        "Lead Status",
        "picklist",
        "lead_status",
        lifecycle=True,
        picklist=LEAD_STATUSES,
    ),
    _f("leadScore", "Lead Score", "integer", "score", lifecycle=True),
    _f("externalSalesPersonId", "Sales Owner", "reference", "owner_id", lifecycle=True),
    _f("unsubscribed", "Unsubscribed", "boolean", "email_opt_out", consent=True),
    _f("doNotCall", "Do Not Call", "boolean", "do_not_call", consent=True),
    _f("marketingSuspended", "Marketing Suspended", "boolean", "suppressed", consent=True),
    _f("emailInvalid", "Email Invalid", "boolean", "none", consent=True),
    _f("consentBasis", "Consent Basis", "string", "legal_basis", consent=True),
    _f("consentEvidence", "Consent Evidence", "string", "consent_evidence", consent=True),
    _f("comments", "Comments", "text", "notes"),
    _f("leadSource", "Lead Source", "string", "lead_source"),
    _f("createdAt", "Created At", "datetime", "created_at", read_only=True),
    _f("updatedAt", "Updated At", "datetime", "updated_at", read_only=True),
)

HUBSPOT_CONTACT: tuple[FieldSpec, ...] = (
    _f("hs_object_id", "Record ID", "string", "id", read_only=True),
    _f("email", "Email", "email", "email", pii=True),
    _f("firstname", "First Name", "string", "first_name", pii=True),
    _f("lastname", "Last Name", "string", "last_name", pii=True),
    _f("company", "Company Name", "string", "company"),
    _f("jobtitle", "Job Title", "string", "title"),
    _f("phone", "Phone Number", "phone", "phone", pii=True),
    _f("country", "Country/Region", "string", "country"),
    _f("city", "City", "string", "city"),
    _f("address", "Street Address", "string", "street", pii=True),
    _f(
        "lifecyclestage",
        "Lifecycle Stage",
        "picklist",
        "lifecycle_stage",
        lifecycle=True,
        picklist=(
            "subscriber",
            "lead",
            "marketingqualifiedlead",
            "salesqualifiedlead",
            "opportunity",
            "customer",
            "other",
        ),
    ),
    _f(
        "hs_lead_status",
        "Lead Status",
        "picklist",
        "lead_status",
        lifecycle=True,
        picklist=tuple(s.upper() for s in LEAD_STATUSES),
    ),
    _f("hubspotscore", "HubSpot Score", "integer", "score", lifecycle=True, read_only=True),
    _f("hubspot_owner_id", "Contact owner", "reference", "owner_id", lifecycle=True),
    _f(
        "hs_email_optout",
        "Unsubscribed from all email",
        "boolean",
        "email_opt_out",
        consent=True,
        read_only=True,
    ),
    _f(
        "hs_email_bad_address",
        "Invalid email address",
        "boolean",
        "suppressed",
        consent=True,
        read_only=True,
    ),
    _f(
        "hs_email_quarantined",
        "Email address quarantined",
        "boolean",
        "none",
        consent=True,
        read_only=True,
    ),
    _f("hs_legal_basis", "Legal basis for processing", "string", "legal_basis", consent=True),
    _f("consent_evidence", "Consent evidence", "string", "consent_evidence", consent=True),
    _f("message", "Message", "text", "notes"),
    _f("hs_analytics_source", "Original Source", "string", "lead_source", read_only=True),
    _f("createdate", "Create Date", "datetime", "created_at", read_only=True),
    _f("lastmodifieddate", "Last Modified Date", "datetime", "updated_at", read_only=True),
)


def _salesforce_person(
    company_field: str, country: str, city: str, street: str, status: bool
) -> tuple[FieldSpec, ...]:
    specs = [
        _f("Id", "Id", "string", "id", read_only=True),
        _f("Email", "Email", "email", "email", pii=True),
        _f("FirstName", "First Name", "string", "first_name", pii=True),
        _f("LastName", "Last Name", "string", "last_name", pii=True),
        _f(company_field, "Company", "string", "company"),
        _f("Title", "Title", "string", "title"),
        _f("Phone", "Phone", "phone", "phone", pii=True),
        _f(country, "Country", "string", "country"),
        _f(city, "City", "string", "city"),
        _f(street, "Street", "string", "street", pii=True),
        _f(
            "Lifecycle_Stage__c",
            "Lifecycle Stage",
            "picklist",
            "lifecycle_stage",
            lifecycle=True,
            picklist=LIFECYCLE_STAGES,
        ),
        _f("Lead_Score__c", "Lead Score", "float", "score", lifecycle=True),
        _f("OwnerId", "Owner ID", "reference", "owner_id", lifecycle=True),
        _f("HasOptedOutOfEmail", "Email Opt Out", "boolean", "email_opt_out", consent=True),
        _f("DoNotCall", "Do Not Call", "boolean", "do_not_call", consent=True),
        _f(
            "EmailBouncedReason",
            "Email Bounced Reason",
            "string",
            "suppression_reason",
            consent=True,
            read_only=True,
        ),
        _f("Consent_Basis__c", "Consent Basis", "string", "legal_basis", consent=True),
        _f("Consent_Evidence__c", "Consent Evidence", "string", "consent_evidence", consent=True),
        _f("Description", "Description", "text", "notes"),
        _f("LeadSource", "Lead Source", "picklist", "lead_source"),
        _f("CreatedDate", "Created Date", "datetime", "created_at", read_only=True),
        _f("LastModifiedDate", "Last Modified Date", "datetime", "updated_at", read_only=True),
    ]
    if status:
        specs.append(
            _f(
                "Status",
                "Lead Status",
                "picklist",
                "lead_status",
                lifecycle=True,
                picklist=LEAD_STATUSES,
            )
        )
    return tuple(specs)


SALESFORCE_LEAD = _salesforce_person("Company", "Country", "City", "Street", status=True)
# Contacts carry the company as a denormalised text field in the emulator (Account.Name in a
# real org; the client reads it through the relationship).
SALESFORCE_CONTACT = _salesforce_person(
    "Company__c", "MailingCountry", "MailingCity", "MailingStreet", status=False
)

PERSON_OBJECTS: dict[str, dict[str, tuple[FieldSpec, ...]]] = {
    "marketo": {"lead": MARKETO_LEAD},
    "hubspot": {"contact": HUBSPOT_CONTACT},
    "salesforce": {"Lead": SALESFORCE_LEAD, "Contact": SALESFORCE_CONTACT},
}

# Non-person objects each connector exposes to tools (for manifest object scoping).
OTHER_OBJECTS: dict[str, tuple[str, ...]] = {
    "marketo": ("list", "program", "smart_campaign", "activity"),
    "hubspot": ("list", "campaign", "owner"),
    "salesforce": ("Campaign", "CampaignMember", "User", "Task"),
}


def person_fields(connector: str, obj: str) -> tuple[FieldSpec, ...]:
    return PERSON_OBJECTS[connector][obj]


def field_by_role(connector: str, obj: str, role: Role) -> FieldSpec | None:
    for spec in PERSON_OBJECTS[connector][obj]:
        if spec.role == role:
            return spec
    return None
