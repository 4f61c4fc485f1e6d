"""What a Salesforce org does when records change, over any ``OrgState``: campaign membership
with its status ladder, the Task activity a write leaves behind, and sObject Collections'
validate-then-commit writes with per-record SaveResults in input order.

Validation runs for every record before anything is committed, which gives ``allOrNone`` its
meaning (nothing is written if any record fails).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from mopsgate.connectors.salesforce import fields as cat
from mopsgate.sandbox.faults import Faults
from mopsgate.sandbox.salesforce import ids
from mopsgate.sandbox.salesforce.errors import ErrorBody, record_error
from mopsgate.sandbox.salesforce.state import OrgState, Record

MAX_RECORDS = 200


def sf_datetime(dt: datetime) -> str:
    dt = dt.astimezone(UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}+0000"


def sf_date(d: date) -> str:
    return d.isoformat()


# membership and activity --------------------------------------------------------------------
def person(state: OrgState, native_id: str) -> Record | None:
    obj = ids.object_of(native_id)
    return state.record(obj, native_id) if obj in ids.PERSON_OBJECTS else None


def ladder(state: OrgState, campaign_id: str) -> list[Record]:
    rows = state.by_index("CampaignMemberStatus", "CampaignId", campaign_id) or []
    return sorted(rows, key=lambda r: int(r["SortOrder"]))


def member(state: OrgState, campaign_id: str, person_id: str) -> Record | None:
    key = "ContactId" if ids.object_of(person_id) == ids.CONTACT else "LeadId"
    for m in state.by_index("CampaignMember", key, person_id) or []:
        if m["CampaignId"] == campaign_id:
            return m
    return None


def add_member(
    state: OrgState, campaign_id: str, person_id: str, status: str, created: datetime | None = None
) -> Record:
    steps = {r["Label"]: r for r in ladder(state, campaign_id)}
    responded = bool(steps[status]["HasResponded"]) if status in steps else False
    when = created or state.now()
    contact = ids.object_of(person_id) == ids.CONTACT
    return state.insert(
        "CampaignMember",
        {
            "CampaignId": campaign_id,
            "LeadId": None if contact else person_id,
            "ContactId": person_id if contact else None,
            "Status": status,
            "HasResponded": responded,
            "FirstRespondedDate": sf_date(when.date()) if responded else None,
            "CreatedDate": sf_datetime(when),
        },
    )


def set_member_status(state: OrgState, row: Record, status: str) -> None:
    steps = {r["Label"]: r for r in ladder(state, row["CampaignId"])}
    responded = bool(steps[status]["HasResponded"])
    values: dict[str, Any] = {"Status": status, "HasResponded": responded}
    if responded and not row["FirstRespondedDate"]:
        values["FirstRespondedDate"] = sf_date(state.now().date())
    state.update("CampaignMember", row["Id"], values)


def add_task(
    state: OrgState,
    who: str | None,
    what: str | None,
    subject: str,
    when: datetime | None = None,
    description: str | None = None,
) -> Record:
    at = when or state.now()
    owner = person(state, who) if who else None
    email = subject.startswith("Email")
    return state.insert(
        "Task",
        {
            "WhoId": who,
            "WhatId": what,
            "Subject": subject,
            "Type": "Email" if email else "Other",
            "TaskSubtype": "Email" if email else "Task",
            "Status": "Completed",
            "ActivityDate": sf_date(at.date()),
            "CreatedDate": sf_datetime(at),
            "OwnerId": owner.get("OwnerId") if owner else None,
            "Description": description,
        },
    )


# sObject Collections ------------------------------------------------------------------------
@dataclass
class Plan:
    id: str | None
    error: ErrorBody | None = None
    commit: Callable[[], ErrorBody | str | None] | None = None


class Collections:
    """Plans and commits one sObject Collections call against a state."""

    def __init__(self, state: OrgState, faults: Faults) -> None:
        self.state = state
        self.faults = faults

    def run(self, method: str, targets: list[Any], all_or_none: bool) -> list[dict[str, Any]]:
        planner = {
            "DELETE": self._plan_delete,
            "POST": self._plan_create,
            "PATCH": self._plan_update,
        }
        plans = [planner[method](t) for t in targets]
        if all_or_none and any(p.error for p in plans):
            rolled = record_error(
                "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "Record rolled back because not "
                "all records were valid and the request was using AllOrNone header",
            )
            return [_result(p.id, p.error or rolled) for p in plans]
        out: list[dict[str, Any]] = []
        for p in plans:
            outcome = p.commit() if p.error is None and p.commit else p.error
            if isinstance(outcome, str):
                out.append(_result(outcome, None))
            else:
                out.append(_result(p.id, outcome))
        return out

    def _check_target(
        self, native_id: Any, objects: tuple[str, ...]
    ) -> tuple[str | None, ErrorBody | None]:
        if not isinstance(native_id, str) or not ids.valid_id(native_id):
            return None, record_error("MALFORMED_ID", f"malformed id {native_id}", ["Id"])
        obj = ids.object_of(native_id)
        if obj not in objects:
            message = f"cannot write {obj or 'this object'} here"
            return None, record_error("INVALID_TYPE", message, ["Id"])
        if native_id in self.faults.fail_record_ids:
            return None, record_error(
                "UNABLE_TO_LOCK_ROW",
                "unable to obtain exclusive access to this record or 1 records: " + native_id,
            )
        if self.state.record(obj, native_id) is None:
            if self.state.is_deleted(native_id):
                return None, record_error("ENTITY_IS_DELETED", "entity is deleted")
            return None, record_error("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
        return obj, None

    # update ---------------------------------------------------------------------------------
    def _plan_update(self, rec: Any) -> Plan:
        if not isinstance(rec, dict):
            return Plan(None, record_error("JSON_PARSER_ERROR", "each record must be an object"))
        raw_id = rec.get("id") or rec.get("Id")
        objects = (*ids.PERSON_OBJECTS, ids.CAMPAIGN_MEMBER, ids.CAMPAIGN)
        obj, error = self._check_target(raw_id, objects)
        if obj is None:
            return Plan(raw_id if isinstance(raw_id, str) else None, error)
        native_id = str(raw_id)
        declared = (rec.get("attributes") or {}).get("type")
        if declared != obj:
            message = f"attributes.type {declared!r} does not match the id's object {obj}"
            return Plan(native_id, record_error("INVALID_TYPE", message))
        values = {k: v for k, v in rec.items() if k not in ("attributes", "id", "Id")}
        if obj == ids.CAMPAIGN_MEMBER:
            return self._plan_member_update(native_id, values)
        if obj == ids.CAMPAIGN:
            return self._plan_campaign_update(native_id, values)
        for name, value in values.items():
            problem = _field_problem(obj, name, value)
            if problem:
                return Plan(native_id, problem)
        if "OwnerId" in values and (problem := self._owner_problem(values["OwnerId"])):
            return Plan(native_id, problem)
        return Plan(native_id, commit=lambda: self._commit_update(obj, native_id, values))

    def _plan_campaign_update(self, native_id: str, values: dict[str, Any]) -> Plan:
        """Campaigns take only IsActive (a boolean) here: what archiving a list-campaign
        writes; the rest of a Campaign is not the emulator's to edit."""
        unknown = sorted(set(values) - {"IsActive"})
        if unknown or not isinstance(values.get("IsActive"), bool):
            return Plan(
                native_id,
                record_error(
                    "INVALID_FIELD_FOR_INSERT_UPDATE",
                    f"the emulator updates only IsActive (a boolean) on Campaign, not {unknown}",
                ),
            )

        def commit() -> str:
            stamp = {"LastModifiedDate": sf_datetime(self.state.now())}
            self.state.update(ids.CAMPAIGN, native_id, {**values, **stamp})
            return native_id

        return Plan(native_id, commit=commit)

    def _owner_problem(self, owner_id: Any) -> ErrorBody | None:
        """Salesforce refuses a record owner that is no User, or an inactive one."""
        user = self.state.record("User", str(owner_id)) if isinstance(owner_id, str) else None
        if user is None:
            return record_error(
                "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["OwnerId"]
            )
        if not user.get("IsActive"):
            return record_error(
                "INACTIVE_OWNER_OR_USER", "operation performed with inactive user", ["OwnerId"]
            )
        return None

    def _commit_update(self, obj: str, native_id: str, values: dict[str, Any]) -> str:
        rec = self.state.record(obj, native_id) or {}
        changed = sorted(k for k, v in values.items() if rec.get(k) != v)
        opted_out = values.get("HasOptedOutOfEmail") is True and not rec.get("HasOptedOutOfEmail")
        stamp = {"LastModifiedDate": sf_datetime(self.state.now())} if changed else {}
        self.state.update(obj, native_id, {**values, **stamp})
        if changed:
            subject = cat.TASK_SUBJECTS["unsubscribed" if opted_out else "field_changed"]
            add_task(
                self.state, native_id, None, subject, description="changed: " + ", ".join(changed)
            )
        return native_id

    def _plan_member_update(self, native_id: str, values: dict[str, Any]) -> Plan:
        row = self.state.record(ids.CAMPAIGN_MEMBER, native_id) or {}
        extra = sorted(set(values) - {"Status"})
        if extra:
            message = f"Unable to create/update fields: {', '.join(extra)}."
            return Plan(native_id, record_error("INVALID_FIELD_FOR_INSERT_UPDATE", message, extra))
        status = values.get("Status")
        problem = self._status_problem(row["CampaignId"], status)
        if problem:
            return Plan(native_id, problem)

        def commit() -> str:
            if row["Status"] != status:
                set_member_status(self.state, row, str(status))
                add_task(
                    self.state,
                    row["LeadId"] or row["ContactId"],
                    row["CampaignId"],
                    cat.TASK_SUBJECTS["status_changed"],
                    description=f"Status: {status}",
                )
            return native_id

        return Plan(native_id, commit=commit)

    def _status_problem(self, campaign_id: str, status: Any) -> ErrorBody | None:
        labels = [r["Label"] for r in ladder(self.state, campaign_id)]
        if status not in labels:
            return record_error(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"Status: bad value for "
                f"restricted picklist field: {status} (allowed: {', '.join(labels)})",
                ["Status"],
            )
        return None

    # create (Lead, Contact, CampaignMember) ------------------------------------------------
    def _plan_create(self, rec: Any) -> Plan:
        if not isinstance(rec, dict):
            return Plan(None, record_error("JSON_PARSER_ERROR", "each record must be an object"))
        kind = (rec.get("attributes") or {}).get("type")
        if kind in ids.PERSON_OBJECTS:
            return self._plan_person_create(str(kind), rec)
        if kind != ids.CAMPAIGN_MEMBER:
            message = "the emulator creates Lead, Contact and CampaignMember records only"
            return Plan(None, record_error("INVALID_TYPE", message))
        if rec.get("id") or rec.get("Id"):
            message = "cannot specify Id in an insert call"
            return Plan(None, record_error("INVALID_FIELD", message, ["Id"]))
        unknown = sorted(set(rec) - {"attributes", "CampaignId", "LeadId", "ContactId", "Status"})
        if unknown:
            message = f"No such column '{unknown[0]}' on sobject of type CampaignMember"
            return Plan(None, record_error("INVALID_FIELD", message, unknown))
        person_id = rec.get("LeadId") or rec.get("ContactId")
        if (
            not rec.get("CampaignId")
            or not person_id
            or (rec.get("LeadId") and rec.get("ContactId"))
        ):
            return Plan(
                None,
                record_error(
                    "REQUIRED_FIELD_MISSING",
                    "Required fields are missing: [CampaignId, LeadId or ContactId]",
                    ["CampaignId", "LeadId"],
                ),
            )
        campaign_id = rec["CampaignId"]
        problem = self._check_target(campaign_id, (ids.CAMPAIGN,))[1]
        problem = problem or self._check_target(person_id, ids.PERSON_OBJECTS)[1]
        if problem:
            return Plan(None, problem)
        status = rec.get("Status")
        if status is None:
            steps = ladder(self.state, campaign_id)
            status = next((r["Label"] for r in steps if r["IsDefault"]), "")
        problem = self._status_problem(campaign_id, status)
        if problem:
            return Plan(None, problem)
        return Plan(None, commit=lambda: self._commit_create(campaign_id, person_id, str(status)))

    def _plan_person_create(self, obj: str, rec: dict[str, Any]) -> Plan:
        values = {k: v for k, v in rec.items() if k != "attributes"}
        if "Id" in values or "id" in values:
            message = "cannot specify Id in an insert call"
            return Plan(None, record_error("INVALID_FIELD", message, ["Id"]))
        for name, value in values.items():
            problem = _field_problem(obj, name, value)
            if problem:
                return Plan(None, problem)
        required = ("LastName", "Company") if obj == ids.LEAD else ("LastName",)
        missing = [f for f in required if not values.get(f)]
        if missing:
            message = f"Required fields are missing: [{', '.join(missing)}]"
            return Plan(None, record_error("REQUIRED_FIELD_MISSING", message, missing))
        return Plan(None, commit=lambda: self._commit_person_create(obj, values))

    def _commit_person_create(self, obj: str, values: dict[str, Any]) -> str:
        """A new person with every catalogue field, the org's defaults (not opted out, the
        default owner, a Lead's first status) under what the client sent."""
        now = sf_datetime(self.state.now())
        record: dict[str, Any] = {spec.name: None for spec in cat.person_specs(obj)}
        record.update(HasOptedOutOfEmail=False, DoNotCall=False, OwnerId=ids.owner_id(0))
        if obj == ids.LEAD:
            record["Status"] = "New"
        record.update(values)
        record.update(CreatedDate=now, LastModifiedDate=now)
        record.pop("Id", None)
        return str(self.state.insert(obj, record)["Id"])

    def _commit_create(self, campaign_id: str, person_id: str, status: str) -> ErrorBody | str:
        if member(self.state, campaign_id, person_id) is not None:
            return record_error("DUPLICATE_VALUE", "Already a campaign member.")
        row = add_member(self.state, campaign_id, person_id, status)
        add_task(self.state, person_id, campaign_id, cat.TASK_SUBJECTS["list_added"])
        return str(row["Id"])

    # delete ---------------------------------------------------------------------------------
    def _plan_delete(self, raw_id: Any) -> Plan:
        obj, error = self._check_target(raw_id, (*ids.PERSON_OBJECTS, ids.CAMPAIGN_MEMBER))
        if obj is None:
            return Plan(raw_id if isinstance(raw_id, str) else None, error)
        native_id = str(raw_id)

        def commit() -> str:
            rec = self.state.record(obj, native_id)
            if rec is None:
                return native_id
            self.state.remove(native_id)
            if obj == ids.CAMPAIGN_MEMBER:
                who = rec["LeadId"] or rec["ContactId"]
                add_task(self.state, who, rec["CampaignId"], cat.TASK_SUBJECTS["list_removed"])
            return native_id

        return Plan(native_id, commit=commit)


def _result(native_id: str | None, error: ErrorBody | None) -> dict[str, Any]:
    return {"id": native_id, "success": error is None, "errors": [error] if error else []}


def _field_problem(obj: str, name: str, value: Any) -> ErrorBody | None:
    spec = next((s for s in cat.person_specs(obj) if s.name == name), None)
    if spec is None:
        if name == cat.NAME_FIELD:
            message = f"Unable to create/update fields: {name}."
            return record_error("INVALID_FIELD_FOR_INSERT_UPDATE", message, [name])
        message = f"No such column '{name}' on sobject of type {obj}"
        return record_error("INVALID_FIELD", message, [name])
    if spec.read_only:
        return record_error(
            "INVALID_FIELD_FOR_INSERT_UPDATE",
            f"Unable to create/update fields: {name}. "
            "Please check the security settings of this field and verify that it is "
            "read/write for your profile or permission set.",
            [name],
        )
    if value is None:
        ok = spec.type != "boolean" and name != "LastName"
    elif spec.type == "boolean":
        ok = isinstance(value, bool)
    elif spec.type in ("float", "integer"):
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, str)
    if not ok:
        return record_error(
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            f"{spec.label}: value not of required type: {value!r}",
            [name],
        )
    if spec.picklist and value is not None and value not in spec.picklist:
        return record_error(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{spec.label}: bad value for restricted picklist field: {value}",
            [name],
        )
    return None
