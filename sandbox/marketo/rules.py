"""What a Marketo instance does on a write, over any ``InstanceState``: Sync Leads validation,
delete, static-list membership, forward-only program progression, Request and Schedule
Campaign, and the activity Marketo itself logs for each (Change Data Value, Add/Remove from
List, Change Status in Progression, Request Campaign, Delete Lead), so activity reads stay
consistent with what was written. Per-record outcomes keep input order."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from mopsgate.connectors.schema import MARKETO_LEAD
from mopsgate.sandbox.marketo import ids
from mopsgate.sandbox.marketo.errors import MktoError, skipped
from mopsgate.sandbox.marketo.state import InstanceState, Member, SmartCampaign, StaticList
from mopsgate.sandbox.marketo.wire import iso_z

SPECS = {spec.name: spec for spec in MARKETO_LEAD}


def _field_problem(name: str, value: Any, **extra: Any) -> dict[str, Any] | None:
    """Why Marketo would skip a record writing ``value`` to ``name``, or None."""
    if name not in SPECS:
        return skipped("1006", f"Field '{name}' not found", **extra)
    if SPECS[name].read_only:
        return skipped("1003", f"Field '{name}' is read-only", **extra)
    if not _type_ok(name, value):
        return skipped("1003", f"Invalid value for field '{name}'", **extra)
    return None


def _type_ok(name: str, value: Any) -> bool:
    kind = SPECS[name].type
    if value is None:
        return True
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)


class InstanceRules:
    def __init__(self, state: InstanceState, now: Callable[[], datetime] | None = None) -> None:
        self.state = state
        self._now = now or (lambda: datetime.now(UTC))

    def now(self) -> datetime:
        return self._now()

    def now_iso(self) -> str:
        return iso_z(self._now())

    def _next_activity_id(self) -> int:
        """Activities and lead deletions draw on one numbering, after the seed's."""
        return ids.ACTIVITY_BASE + self.state.activity_count() + len(self.state.runs("deleted"))

    def add_activity(self, lead_id: int, type_id: int, **extra: Any) -> None:
        aid = self._next_activity_id()
        self.state.add_activity(
            {
                "id": aid,
                "marketoGUID": str(aid),
                "leadId": lead_id,
                "activityDate": self.now_iso(),
                "activityTypeId": type_id,
                "attributes": [],
                **extra,
            }
        )

    def _refusal(self, lid: Any, fail_ids: set[str], **extra: Any) -> dict[str, Any] | None:
        """The record-level refusal every lead write starts with: unknown lead, injected fault."""
        if not isinstance(lid, int) or self.state.lead(lid) is None:
            return skipped("1004", "Lead not found", **extra)
        if str(lid) in fail_ids:
            return skipped("1003", "Invalid data (injected fault)", **extra)
        return None

    def _static_list(self, list_id: int) -> StaticList:
        lst = self.state.static_list(list_id)
        if lst is None:
            raise MktoError("1013", "Static list not found")
        return lst

    def _campaign(self, campaign_id: int) -> SmartCampaign:
        camp = self.state.smart_campaign(campaign_id)
        if camp is None:
            raise MktoError("1013", "Campaign not found")
        return camp

    # lead writes --------------------------------------------------------------------------
    def update_leads(self, records: Iterable[Any], fail_ids: set[str]) -> list[dict[str, Any]]:
        return [self._update_one(rec, fail_ids) for rec in records]

    def _update_one(self, rec: Any, fail_ids: set[str]) -> dict[str, Any]:
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), int):
            return skipped("1003", "Value for lookup field 'id' must be an integer")
        lid = rec["id"]
        lead = self.state.lead(lid)
        if lead is None:
            return skipped("1004", "Lead not found")
        if str(lid) in fail_ids:
            return skipped("1003", "Invalid data (injected fault)", id=lid)
        changes = {k: v for k, v in rec.items() if k != "id"}
        for name, value in changes.items():
            problem = _field_problem(name, value, id=lid)
            if problem is not None:
                return problem
        for name, value in changes.items():
            old = lead.get(name)
            if old == value:
                continue
            self.state.save_lead(lid, {name: value})
            type_id = 22 if name == "leadScore" else 13
            self.add_activity(
                lid,
                type_id,
                primaryAttributeValue=SPECS[name].label,
                attributes=[
                    {"name": "Old Value", "value": old},
                    {"name": "New Value", "value": value},
                ],
            )
        self.state.save_lead(lid, {"updatedAt": self.now_iso()})
        return {"id": lid, "status": "updated"}

    # Sync Leads (create, update or both) ---------------------------------------------------
    def sync_leads(
        self, records: Iterable[Any], action: str, lookup: str, fail_ids: set[str]
    ) -> list[dict[str, Any]]:
        """Sync Leads per record, in input order: find the lead by ``lookup`` (case-blind,
        exact), then update it, create one, or skip, as ``action`` says."""
        return [self._sync_one(rec, action, lookup, fail_ids) for rec in records]

    def _sync_one(self, rec: Any, action: str, lookup: str, fail_ids: set[str]) -> dict[str, Any]:
        if lookup == "id":  # only with updateOnly (checked by the route)
            return self._update_one(rec, fail_ids)
        if not isinstance(rec, dict):
            return skipped("1003", "Each input record must be an object")
        key = rec.get(lookup)
        if key is None or key == "":
            return skipped("1003", f"Value for lookup field '{lookup}' not found")
        matches = self.state.find_leads(lookup, [str(key)])
        if len(matches) > 1:
            return skipped("1007", "Multiple lead match lookup criteria")
        if matches:
            if action == "createOnly":
                return skipped("1005", "Lead already exists")
            changes = {k: v for k, v in rec.items() if k not in (lookup, "id")}
            return self._update_one({"id": matches[0], **changes}, fail_ids)
        if action == "updateOnly":
            return skipped("1004", "Lead not found")
        return self._create_one(rec)

    def _create_one(self, rec: dict[str, Any]) -> dict[str, Any]:
        if "id" in rec:
            return skipped("1003", "Field 'id' cannot be set when creating a lead")
        for name, value in rec.items():
            problem = _field_problem(name, value)
            if problem is not None:
                return problem
        lid = self.state.new_lead_id()
        now = self.now_iso()
        unset: dict[str, Any] = {"boolean": False}  # a new lead is not unsubscribed...
        lead = {s.name: unset.get(s.type) for s in MARKETO_LEAD}
        lead.update(rec)
        lead.update(id=lid, createdAt=now, updatedAt=now)
        self.state.add_lead(lead)
        self.add_activity(lid, 12, primaryAttributeValue=str(rec.get("email") or ""))
        return {"id": lid, "status": "created"}

    def delete_leads(self, lead_ids: Iterable[Any], fail_ids: set[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for lid in lead_ids:
            refused = self._refusal(lid, fail_ids, id=lid)
            if refused is not None:
                out.append(refused)
            else:
                entry = {
                    "id": self._next_activity_id(),
                    "leadId": lid,
                    "activityDate": self.now_iso(),
                    "activityTypeId": ids.DELETED_LEAD_TYPE_ID,
                    "attributes": [],
                }
                self.state.remove_lead(lid)
                self.state.record_run("deleted", entry)
                out.append({"id": lid, "status": "deleted"})
        return out

    def merge_leads(self, winner: int, losers: list[int]) -> None:
        """Merge Leads: the losers' static-list and program memberships move to the winner
        (a program the winner is already in keeps the winner's status), fields the winner
        leaves empty take the first loser's value, an unsubscribe on any of them stays, and
        the losers are deleted. A call is all or nothing."""
        if self.state.lead(winner) is None:
            raise MktoError("1004", f"Lead '{winner}' not found")
        if not 1 <= len(losers) <= 3 or winner in losers:
            raise MktoError("1003", "leadIds must name 1 to 3 leads other than the winner")
        missing = [lid for lid in losers if self.state.lead(lid) is None]
        if missing:
            raise MktoError("1004", f"Lead '{missing[0]}' not found")
        lead = self.state.lead(winner) or {}
        fill: dict[str, Any] = {}
        for lid in losers:
            other = self.state.lead(lid) or {}
            for name, value in other.items():
                empty = lead.get(name) in (None, "") and name not in fill
                if name not in ("id", "email") and empty and value not in (None, ""):
                    fill[name] = value
            if other.get("unsubscribed"):
                fill["unsubscribed"] = True
            for list_id, at in self.state.lists_of(lid).items():
                if list_id not in self.state.lists_of(winner):
                    self.state.add_list_member(list_id, winner, at)
            mine = self.state.programs_of(winner)
            for program_id, member in self.state.programs_of(lid).items():
                if program_id not in mine:
                    self.state.save_member(program_id, winner, member)
        if fill:
            self.state.save_lead(winner, {**fill, "updatedAt": self.now_iso()})
        for lid in losers:
            self.state.remove_lead(lid)
            self.state.record_run("merged", {"winner": winner, "loser": lid})

    # list writes --------------------------------------------------------------------------
    def list_add(
        self, list_id: int, lead_ids: Iterable[Any], fail_ids: set[str]
    ) -> list[dict[str, Any]]:
        lst = self._static_list(list_id)
        out: list[dict[str, Any]] = []
        for lid in lead_ids:
            refused = self._refusal(lid, fail_ids, id=lid)
            if refused is not None:
                out.append(refused)
            else:
                if lid not in lst.members:
                    self.state.add_list_member(list_id, lid, self.now_iso())
                    self.add_activity(
                        lid, 24, primaryAttributeValueId=list_id, primaryAttributeValue=lst.name
                    )
                out.append({"id": lid, "status": "added"})
        return out

    def list_remove(
        self, list_id: int, lead_ids: Iterable[Any], fail_ids: set[str]
    ) -> list[dict[str, Any]]:
        lst = self._static_list(list_id)
        out: list[dict[str, Any]] = []
        for lid in lead_ids:
            refused = self._refusal(lid, fail_ids, id=lid)
            if refused is not None:
                out.append(refused)
            elif lid not in lst.members:
                out.append(skipped("1015", "Lead not in list", id=lid))
            else:
                self.state.remove_list_member(list_id, lid)
                self.add_activity(
                    lid, 25, primaryAttributeValueId=list_id, primaryAttributeValue=lst.name
                )
                out.append({"id": lid, "status": "removed"})
        return out

    # program and campaign writes ----------------------------------------------------------
    def set_program_status(
        self, program_id: int, status: str, lead_ids: list[Any], fail_ids: set[str]
    ) -> list[dict[str, Any]]:
        prog = self.state.program(program_id)
        if prog is None:
            raise MktoError("1013", "Program not found")
        ladder = {name: (step, ok) for name, step, ok in self.state.channel(prog.channel) or ()}
        if status not in ladder:
            raise MktoError(
                "1025", f"Program status '{status}' not found for channel '{prog.channel}'"
            )
        step, success = ladder[status]
        return [
            self._status_one(
                prog.id, prog.members, ladder, status, step, success, seq, lid, fail_ids
            )
            for seq, lid in enumerate(lead_ids)
        ]

    def _status_one(
        self,
        program_id: int,
        members: Mapping[int, Member],
        ladder: dict[str, tuple[int, bool]],
        status: str,
        step: int,
        success: bool,
        seq: int,
        lid: Any,
        fail_ids: set[str],
    ) -> dict[str, Any]:
        refused = self._refusal(lid, fail_ids, seq=seq, leadId=lid)
        if refused is not None:
            return refused
        now = self.now_iso()
        current = members.get(lid)
        if current is not None and ladder.get(current.status, (0, False))[0] >= step:
            return skipped(
                "1037", "Lead already at or past this program status", seq=seq, leadId=lid
            )
        old = current.status if current else None
        if current is None:
            member = Member(status, success, now, now)
        else:
            reached = current.reached_success or success
            member = replace(current, status=status, updated_at=now, reached_success=reached)
        self.state.save_member(program_id, lid, member)
        self.add_activity(
            lid,
            104,
            primaryAttributeValueId=program_id,
            primaryAttributeValue=status,
            attributes=[
                {"name": "Old Status", "value": old},
                {"name": "New Status", "value": status},
            ],
        )
        return {"seq": seq, "leadId": lid, "status": "updated" if current else "created"}

    def trigger(self, campaign_id: int, lead_ids: list[int], tokens: list[Any]) -> None:
        camp = self._campaign(campaign_id)
        if not (camp.is_active and camp.is_requestable):
            raise MktoError(
                "1003",
                "Trigger campaign is not active or not requestable "
                "('Campaign is Requested' trigger missing)",
            )
        existing = [lid for lid in lead_ids if self.state.lead(lid) is not None]
        self.state.record_run(
            "triggered",
            {
                "campaign_id": campaign_id,
                "lead_ids": existing,
                "tokens": tokens,
                "at": self.now_iso(),
            },
        )
        for lid in existing:
            self.add_activity(
                lid,
                47,
                campaignId=campaign_id,
                primaryAttributeValueId=campaign_id,
                primaryAttributeValue=camp.name,
            )

    def schedule(self, campaign_id: int, run_at: datetime | None, tokens: list[Any]) -> None:
        camp = self._campaign(campaign_id)
        if camp.type != "batch":
            raise MktoError(
                "1003", "Cannot schedule a trigger campaign; only batch campaigns can be scheduled"
            )
        now = self._now()
        if run_at is not None and (run_at - now).days > 730:
            raise MktoError("1042", "Invalid runAt date: more than 2 years in the future")
        when = run_at if run_at is not None and run_at > now else now
        self.state.record_run(
            "scheduled",
            {
                "campaign_id": campaign_id,
                "run_at": iso_z(when),
                "tokens": tokens,
                "at": self.now_iso(),
            },
        )
