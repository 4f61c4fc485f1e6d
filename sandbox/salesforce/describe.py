"""Describe results of the emulated org: the global describe (``GET sobjects``), an object's
basic information (``GET sobjects/{type}``) and its full describe (``…/describe``) for the person
objects (from the shared field catalogue) and for Campaign, CampaignMember,
CampaignMemberStatus, User and Task (types below).

The PII classification Salesforce keeps in FieldDefinition is surfaced here as each field's
``complianceGroup``.
"""

from __future__ import annotations

from typing import Any

from mopsgate.connectors.salesforce import fields as cat
from mopsgate.connectors.schema import FieldSpec
from mopsgate.sandbox.salesforce import ids

Record = dict[str, Any]

# Field types of the objects the person catalogue does not cover; computed and system fields
# are neither createable nor updateable.
OTHER_TYPES: dict[str, dict[str, str]] = {
    "Campaign": {
        "Id": "id",
        "Name": "string",
        "Type": "picklist",
        "Status": "picklist",
        "IsActive": "boolean",
        "Description": "textarea",
        "StartDate": "date",
        "EndDate": "date",
        "OwnerId": "reference",
        "ParentId": "reference",
        "NumberOfLeads": "int",
        "NumberOfContacts": "int",
        "NumberOfResponses": "int",
        "NumberSent": "double",
        "CreatedDate": "datetime",
        "LastModifiedDate": "datetime",
    },
    "CampaignMember": {
        "Id": "id",
        "CampaignId": "reference",
        "LeadId": "reference",
        "ContactId": "reference",
        "LeadOrContactId": "reference",
        "Status": "picklist",
        "HasResponded": "boolean",
        "FirstRespondedDate": "date",
        "CreatedDate": "datetime",
        "Email": "email",
        "FirstName": "string",
        "LastName": "string",
        "HasOptedOutOfEmail": "boolean",
        "DoNotCall": "boolean",
    },
    "CampaignMemberStatus": {
        "Id": "id",
        "CampaignId": "reference",
        "Label": "string",
        "SortOrder": "int",
        "HasResponded": "boolean",
        "IsDefault": "boolean",
    },
    "User": {
        "Id": "id",
        "Name": "string",
        "Email": "email",
        "Username": "string",
        "IsActive": "boolean",
    },
    "Task": {
        "Id": "id",
        "WhoId": "reference",
        "WhatId": "reference",
        "Subject": "combobox",
        "Type": "picklist",
        "TaskSubtype": "picklist",
        "Status": "picklist",
        "ActivityDate": "date",
        "CreatedDate": "datetime",
        "OwnerId": "reference",
        "Description": "textarea",
    },
}
# What a client may write, per object (the rest is read-only here).
WRITABLE: dict[str, frozenset[str]] = {
    "Campaign": frozenset(),
    "CampaignMember": frozenset({"CampaignId", "LeadId", "ContactId", "Status"}),
    "CampaignMemberStatus": frozenset(),
    "User": frozenset(),
    "Task": frozenset(),
}
PLURALS = {"Campaign": "Campaigns", "CampaignMember": "Campaign Members", "Task": "Tasks"}
WRITES = {  # createable, updateable, deletable
    "Lead": (True, True, True),
    "Contact": (True, True, True),
    "CampaignMember": (True, True, True),
}


def global_describe(version: str) -> Record:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [_basic(version, obj) for obj in cat.all_objects()],
    }


def basic(version: str, obj: str) -> Record:
    """``GET sobjects/{type}``: the object's describe basics and no recent items."""
    return {"objectDescribe": _basic(version, obj), "recentItems": []}


def describe(version: str, obj: str) -> Record:
    if obj in ids.PERSON_OBJECTS:
        fields = [_person_field(spec) for spec in cat.person_specs(obj)]
        name = _field("Name", "Full Name", "string", writable=False, pii=True)
        fields.append({**name, "nillable": False})
    else:
        writable = WRITABLE[obj]
        fields = [
            _field(name, name, kind, writable=name in writable, pii=False)
            for name, kind in OTHER_TYPES[obj].items()
        ]
    return {**_basic(version, obj), "fields": fields}


def _basic(version: str, obj: str) -> Record:
    createable, updateable, deletable = WRITES.get(obj, (False, False, False))
    base = f"/services/data/{version}/sobjects/{obj}"
    return {
        "name": obj,
        "label": obj,
        "labelPlural": PLURALS.get(obj, obj + "s"),
        "keyPrefix": ids.PREFIX.get(obj),
        "custom": False,
        "queryable": True,
        "retrieveable": True,
        "searchable": obj in ids.PERSON_OBJECTS,
        "createable": createable,
        "updateable": updateable,
        "deletable": deletable,
        "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
    }


def _person_field(spec: FieldSpec) -> Record:
    out = _field(
        spec.name,
        spec.label,
        "id" if spec.name == "Id" else cat.SF_TYPES[spec.type],
        writable=not spec.read_only,
        pii=spec.pii,
    )
    out["nillable"] = spec.type != "boolean" and spec.name not in ("Id", "LastName")
    out["custom"] = spec.name.endswith("__c")
    out["picklistValues"] = [
        {"value": v, "label": v, "active": True, "defaultValue": False} for v in spec.picklist
    ]
    return out


def _field(name: str, label: str, kind: str, *, writable: bool, pii: bool) -> Record:
    return {
        "name": name,
        "label": label,
        "type": kind,
        "updateable": writable,
        "createable": writable,
        "nillable": kind not in ("id", "boolean"),
        "custom": False,
        "picklistValues": [],
        # Not in describe: FieldDefinition classification, surfaced here.
        "complianceGroup": "PII" if pii else None,
    }
