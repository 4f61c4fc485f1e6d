"""sObject Collections (``/composite/sobjects``) for the Salesforce emulator.

Each record is validated first and committed second, which gives ``allOrNone`` its meaning
(nothing is written if any record fails) and keeps per-record SaveResults in input order with
``statusCode`` errors, as the real endpoint answers. Writes append Task activities.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mopsgate.connectors.salesforce import fields as cat
from mopsgate.sandbox.salesforce import ids
from mopsgate.sandbox.salesforce.state import Record, sf_datetime

if TYPE_CHECKING:
    from mopsgate.sandbox.salesforce.emulator import SalesforceEmulator

MAX_RECORDS = 200
ErrorBody = dict[str, Any]


@dataclass
class Plan:
    id: str | None
    error: ErrorBody | None = None
    commit: Callable[[], ErrorBody | str | None] | None = None


def err(code: str, message: str, fields: list[str] | None = None) -> ErrorBody:
    return {"statusCode": code, "message": message, "fields": fields or []}


def sf_error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse([{"message": message, "errorCode": code, "fields": []}], status)


async def composite(emu: SalesforceEmulator, request: Request) -> Response:
    if request.method == "DELETE":
        raw = request.query_params.get("ids", "")
        targets: list[Any] = [i for i in raw.split(",") if i]
        all_or_none = request.query_params.get("allOrNone", "false").lower() == "true"
    else:
        try:
            body = await request.json()
            targets = list(body["records"])
            all_or_none = bool(body.get("allOrNone", False))
        except (ValueError, KeyError, TypeError):
            return sf_error(
                400,
                "JSON_PARSER_ERROR",
                "The request body is not valid: expected {allOrNone, records: [...]}",
            )
    if not targets:
        return sf_error(400, "INVALID_FIELD", "No records to process")
    if len(targets) > MAX_RECORDS:
        return sf_error(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_RECORDS} records into this call",
        )
    planner = {"DELETE": _plan_delete, "POST": _plan_create, "PATCH": _plan_update}
    plans = [planner[request.method](emu, t) for t in targets]
    return JSONResponse(_run(plans, all_or_none))


def _run(plans: list[Plan], all_or_none: bool) -> list[dict[str, Any]]:
    if all_or_none and any(p.error for p in plans):
        rolled = err(
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


def _result(native_id: str | None, error: ErrorBody | None) -> dict[str, Any]:
    return {"id": native_id, "success": error is None, "errors": [error] if error else []}


def _check_target(
    emu: SalesforceEmulator, native_id: Any, objects: tuple[str, ...]
) -> tuple[str | None, ErrorBody | None]:
    if not isinstance(native_id, str) or not ids.valid_id(native_id):
        return None, err("MALFORMED_ID", f"malformed id {native_id}", ["Id"])
    obj = ids.object_of(native_id)
    if obj not in objects:
        return None, err("INVALID_TYPE", f"cannot write {obj or 'this object'} here", ["Id"])
    if native_id in emu.core.faults.fail_record_ids:
        return None, err(
            "UNABLE_TO_LOCK_ROW",
            "unable to obtain exclusive access to this record or 1 records: " + native_id,
        )
    if native_id not in emu.state.objects[obj]:
        if native_id in emu.state.deleted:
            return None, err("ENTITY_IS_DELETED", "entity is deleted")
        return None, err("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
    return obj, None


# update -------------------------------------------------------------------------------------
def _plan_update(emu: SalesforceEmulator, rec: Any) -> Plan:
    if not isinstance(rec, dict):
        return Plan(None, err("JSON_PARSER_ERROR", "each record must be an object"))
    raw_id = rec.get("id") or rec.get("Id")
    obj, error = _check_target(emu, raw_id, (*ids.PERSON_OBJECTS, ids.CAMPAIGN_MEMBER))
    if obj is None:
        return Plan(raw_id if isinstance(raw_id, str) else None, error)
    native_id = str(raw_id)
    declared = (rec.get("attributes") or {}).get("type")
    if declared != obj:
        return Plan(
            native_id,
            err(
                "INVALID_TYPE", f"attributes.type {declared!r} does not match the id's object {obj}"
            ),
        )
    values = {k: v for k, v in rec.items() if k not in ("attributes", "id", "Id")}
    if obj == ids.CAMPAIGN_MEMBER:
        return _plan_member_update(emu, native_id, values)
    for name, value in values.items():
        problem = _field_problem(obj, name, value)
        if problem:
            return Plan(native_id, problem)
    return Plan(native_id, commit=lambda: _commit_update(emu, obj, native_id, values))


def _field_problem(obj: str, name: str, value: Any) -> ErrorBody | None:
    spec = next((s for s in cat.person_specs(obj) if s.name == name), None)
    if spec is None:
        if name == cat.NAME_FIELD:
            return err(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {name}.",
                [name],
            )
        return err("INVALID_FIELD", f"No such column '{name}' on sobject of type {obj}", [name])
    if spec.read_only:
        return err(
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
        return err(
            "INVALID_TYPE_ON_FIELD_IN_RECORD",
            f"{spec.label}: value not of required type: {value!r}",
            [name],
        )
    if spec.picklist and value is not None and value not in spec.picklist:
        return err(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"{spec.label}: bad value for restricted picklist field: {value}",
            [name],
        )
    return None


def _commit_update(
    emu: SalesforceEmulator, obj: str, native_id: str, values: dict[str, Any]
) -> str:
    rec = emu.state.objects[obj][native_id]
    changed = sorted(k for k, v in values.items() if rec.get(k) != v)
    opted_out = values.get("HasOptedOutOfEmail") is True and not rec.get("HasOptedOutOfEmail")
    rec.update(values)
    if changed:
        rec["LastModifiedDate"] = sf_datetime(emu.state.now())
        subject = cat.TASK_SUBJECTS["unsubscribed" if opted_out else "field_changed"]
        emu.state.add_task(native_id, None, subject, description="changed: " + ", ".join(changed))
    return native_id


def _plan_member_update(emu: SalesforceEmulator, native_id: str, values: dict[str, Any]) -> Plan:
    member = emu.state.objects[ids.CAMPAIGN_MEMBER][native_id]
    extra = sorted(set(values) - {"Status"})
    if extra:
        return Plan(
            native_id,
            err(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(extra)}.",
                extra,
            ),
        )
    status = values.get("Status")
    problem = _status_problem(emu, member["CampaignId"], status)
    if problem:
        return Plan(native_id, problem)

    def commit() -> str:
        if member["Status"] != status:
            emu.state.set_member_status(member, str(status))
            who = member["LeadId"] or member["ContactId"]
            emu.state.add_task(
                who,
                member["CampaignId"],
                cat.TASK_SUBJECTS["status_changed"],
                description=f"Status: {status}",
            )
        return native_id

    return Plan(native_id, commit=commit)


def _status_problem(emu: SalesforceEmulator, campaign_id: str, status: Any) -> ErrorBody | None:
    labels = [r["Label"] for r in emu.state.ladder(campaign_id)]
    if status not in labels:
        return err(
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"Status: bad value for "
            f"restricted picklist field: {status} (allowed: {', '.join(labels)})",
            ["Status"],
        )
    return None


# create (CampaignMember only) ---------------------------------------------------------------
def _plan_create(emu: SalesforceEmulator, rec: Any) -> Plan:
    if not isinstance(rec, dict):
        return Plan(None, err("JSON_PARSER_ERROR", "each record must be an object"))
    if (rec.get("attributes") or {}).get("type") != ids.CAMPAIGN_MEMBER:
        return Plan(None, err("INVALID_TYPE", "the emulator creates CampaignMember records only"))
    if rec.get("id") or rec.get("Id"):
        return Plan(None, err("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"]))
    unknown = sorted(set(rec) - {"attributes", "CampaignId", "LeadId", "ContactId", "Status"})
    if unknown:
        return Plan(
            None,
            err(
                "INVALID_FIELD",
                f"No such column '{unknown[0]}' on sobject of type CampaignMember",
                unknown,
            ),
        )
    person_id = rec.get("LeadId") or rec.get("ContactId")
    if not rec.get("CampaignId") or not person_id or (rec.get("LeadId") and rec.get("ContactId")):
        return Plan(
            None,
            err(
                "REQUIRED_FIELD_MISSING",
                "Required fields are missing: [CampaignId, LeadId or ContactId]",
                ["CampaignId", "LeadId"],
            ),
        )
    campaign_id = rec["CampaignId"]
    problem = _check_target(emu, campaign_id, (ids.CAMPAIGN,))[1]
    problem = problem or _check_target(emu, person_id, ids.PERSON_OBJECTS)[1]
    if problem:
        return Plan(None, problem)
    status = rec.get("Status")
    if status is None:
        status = next((r["Label"] for r in emu.state.ladder(campaign_id) if r["IsDefault"]), "")
    problem = _status_problem(emu, campaign_id, status)
    if problem:
        return Plan(None, problem)
    return Plan(None, commit=lambda: _commit_create(emu, campaign_id, person_id, str(status)))


def _commit_create(
    emu: SalesforceEmulator, campaign_id: str, person_id: str, status: str
) -> ErrorBody | str:
    if emu.state.member(campaign_id, person_id) is not None:
        return err("DUPLICATE_VALUE", "Already a campaign member.")
    member: Record = emu.state.add_member(campaign_id, person_id, status)
    emu.state.add_task(person_id, campaign_id, cat.TASK_SUBJECTS["list_added"])
    return str(member["Id"])


# delete -------------------------------------------------------------------------------------
def _plan_delete(emu: SalesforceEmulator, raw_id: Any) -> Plan:
    obj, error = _check_target(emu, raw_id, (*ids.PERSON_OBJECTS, ids.CAMPAIGN_MEMBER))
    if obj is None:
        return Plan(raw_id if isinstance(raw_id, str) else None, error)
    native_id = str(raw_id)

    def commit() -> str:
        rec = emu.state.objects[obj].get(native_id)
        if rec is None:
            return native_id
        emu.state.remove(native_id)
        if obj == ids.CAMPAIGN_MEMBER:
            who = rec["LeadId"] or rec["ContactId"]
            emu.state.add_task(who, rec["CampaignId"], cat.TASK_SUBJECTS["list_removed"])
        return native_id

    return Plan(native_id, commit=commit)
