"""The Marketo emulator's mutable state and the business rules of its writes.

Reads are dictionary lookups so the emulator keeps up with 10,000-person plan/apply benchmarks;
every write appends the activity Marketo itself would log (Change Data Value, Add/Remove from
List, Change Status in Progression, Request Campaign, Delete Lead), so activity reads stay
consistent with what was written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from mopsgate.connectors.schema import MARKETO_LEAD
from mopsgate.sandbox.marketo import ids
from mopsgate.sandbox.marketo.seed import Member, World, iso_z

SPECS = {spec.name: spec for spec in MARKETO_LEAD}
# filterType values the emulator answers (and describe2 advertises as searchable).
SEARCHABLE = (
    "email",
    "id",
    "company",
    "lastName",
    "firstName",
    "mktoLifecycleStage",
    "externalSalesPersonId",
)


class MktoError(Exception):
    """A response-level Marketo error (HTTP 200, ``success:false``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message


def skipped(code: str, message: str, **extra: Any) -> dict[str, Any]:
    return {**extra, "status": "skipped", "reasons": [{"code": code, "message": message}]}


def _type_ok(name: str, value: Any) -> bool:
    kind = SPECS[name].type
    if value is None:
        return True
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)


class MarketoState:
    def __init__(self, world: World, now: Callable[[], datetime] | None = None) -> None:
        self.w = world
        self._now = now or (lambda: datetime.now(UTC))
        self.email_index: dict[str, set[int]] = {}
        for lid, rec in world.leads.items():
            self._index_email(lid, rec.get("email"))
        self.next_activity_id = ids.ACTIVITY_BASE + len(world.activities)
        self.triggered: list[dict[str, Any]] = []
        self.scheduled: list[dict[str, Any]] = []
        self.deleted: list[dict[str, Any]] = []

    # indexes ------------------------------------------------------------------------------
    def _index_email(self, lid: int, email: Any) -> None:
        if isinstance(email, str):
            self.email_index.setdefault(email.strip().casefold(), set()).add(lid)

    def _unindex_email(self, lid: int, email: Any) -> None:
        if isinstance(email, str):
            self.email_index.get(email.strip().casefold(), set()).discard(lid)

    def filter_leads(self, filter_type: str, values: list[str]) -> list[int]:
        """Ids matching an exact-value filter, in id order (string keys compare case-blind)."""
        if filter_type == "email":
            found: set[int] = set()
            for v in values:
                found |= self.email_index.get(v.strip().casefold(), set())
            return sorted(found)
        if filter_type == "id":
            wanted = {int(v) for v in values if v.strip().isdigit()}
            return sorted(w for w in wanted if w in self.w.leads)
        keys = {v.strip().casefold() for v in values}
        return sorted(
            lid
            for lid, rec in self.w.leads.items()
            if str(rec.get(filter_type) or "").casefold() in keys
        )

    # activities ---------------------------------------------------------------------------
    def now_iso(self) -> str:
        return iso_z(self._now())

    def add_activity(self, lead_id: int, type_id: int, **extra: Any) -> None:
        when = self.now_iso()
        if self.w.activities and self.w.activities[-1]["activityDate"] > when:
            when = self.w.activities[-1]["activityDate"]  # keep the log in date order
        self.next_activity_id += 1
        aid = self.next_activity_id - 1
        self.w.activities.append(
            {
                "id": aid,
                "marketoGUID": str(aid),
                "leadId": lead_id,
                "activityDate": when,
                "activityTypeId": type_id,
                "attributes": [],
                **extra,
            }
        )

    # lead writes --------------------------------------------------------------------------
    def update_leads(self, records: Iterable[Any], fail_ids: set[str]) -> list[dict[str, Any]]:
        return [self._update_one(rec, fail_ids) for rec in records]

    def _update_one(self, rec: Any, fail_ids: set[str]) -> dict[str, Any]:
        if not isinstance(rec, dict) or not isinstance(rec.get("id"), int):
            return skipped("1003", "Value for lookup field 'id' must be an integer")
        lid = rec["id"]
        lead = self.w.leads.get(lid)
        if lead is None:
            return skipped("1004", "Lead not found")
        if str(lid) in fail_ids:
            return skipped("1003", "Invalid data (injected fault)", id=lid)
        changes = {k: v for k, v in rec.items() if k != "id"}
        for name, value in changes.items():
            if name not in SPECS:
                return skipped("1006", f"Field '{name}' not found", id=lid)
            if SPECS[name].read_only:
                return skipped("1003", f"Field '{name}' is read-only", id=lid)
            if not _type_ok(name, value):
                return skipped("1003", f"Invalid value for field '{name}'", id=lid)
        for name, value in changes.items():
            old = lead.get(name)
            if old == value:
                continue
            if name == "email":
                self._unindex_email(lid, old)
                self._index_email(lid, value)
            lead[name] = value
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
        lead["updatedAt"] = self.now_iso()
        return {"id": lid, "status": "updated"}

    def delete_leads(self, lead_ids: Iterable[Any], fail_ids: set[str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for lid in lead_ids:
            if not isinstance(lid, int) or lid not in self.w.leads:
                out.append(skipped("1004", "Lead not found", id=lid))
            elif str(lid) in fail_ids:
                out.append(skipped("1003", "Invalid data (injected fault)", id=lid))
            else:
                lead = self.w.leads.pop(lid)
                self._unindex_email(lid, lead.get("email"))
                for lst in self.w.static_lists.values():
                    lst.members.pop(lid, None)
                for prog in self.w.programs.values():
                    prog.members.pop(lid, None)
                self.deleted.append(
                    {
                        "id": self.next_activity_id,
                        "leadId": lid,
                        "activityDate": self.now_iso(),
                        "activityTypeId": ids.DELETED_LEAD_TYPE_ID,
                        "attributes": [],
                    }
                )
                self.next_activity_id += 1
                out.append({"id": lid, "status": "deleted"})
        return out

    # list writes --------------------------------------------------------------------------
    def list_add(
        self, list_id: int, lead_ids: Iterable[Any], fail_ids: set[str]
    ) -> list[dict[str, Any]]:
        lst = self.w.static_lists[list_id]
        out: list[dict[str, Any]] = []
        for lid in lead_ids:
            if not isinstance(lid, int) or lid not in self.w.leads:
                out.append(skipped("1004", "Lead not found", id=lid))
            elif str(lid) in fail_ids:
                out.append(skipped("1003", "Invalid data (injected fault)", id=lid))
            else:
                if lid not in lst.members:
                    lst.members[lid] = self.now_iso()
                    self.add_activity(
                        lid, 24, primaryAttributeValueId=list_id, primaryAttributeValue=lst.name
                    )
                out.append({"id": lid, "status": "added"})
        return out

    def list_remove(
        self, list_id: int, lead_ids: Iterable[Any], fail_ids: set[str]
    ) -> list[dict[str, Any]]:
        lst = self.w.static_lists[list_id]
        out: list[dict[str, Any]] = []
        for lid in lead_ids:
            if not isinstance(lid, int) or lid not in self.w.leads:
                out.append(skipped("1004", "Lead not found", id=lid))
            elif str(lid) in fail_ids:
                out.append(skipped("1003", "Invalid data (injected fault)", id=lid))
            elif lid not in lst.members:
                out.append(skipped("1015", "Lead not in list", id=lid))
            else:
                del lst.members[lid]
                self.add_activity(
                    lid, 25, primaryAttributeValueId=list_id, primaryAttributeValue=lst.name
                )
                out.append({"id": lid, "status": "removed"})
        return out

    # program and campaign writes ----------------------------------------------------------
    def set_program_status(
        self, program_id: int, status: str, lead_ids: list[Any], fail_ids: set[str]
    ) -> list[dict[str, Any]]:
        prog = self.w.programs[program_id]
        ladder = {name: (step, ok) for name, step, ok in self.w.channels[prog.channel]}
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
        members: dict[int, Member],
        ladder: dict[str, tuple[int, bool]],
        status: str,
        step: int,
        success: bool,
        seq: int,
        lid: Any,
        fail_ids: set[str],
    ) -> dict[str, Any]:
        if not isinstance(lid, int) or lid not in self.w.leads:
            return skipped("1004", "Lead not found", seq=seq, leadId=lid)
        if str(lid) in fail_ids:
            return skipped("1003", "Invalid data (injected fault)", seq=seq, leadId=lid)
        now = self.now_iso()
        current = members.get(lid)
        if current is not None and ladder.get(current.status, (0, False))[0] >= step:
            return skipped(
                "1037", "Lead already at or past this program status", seq=seq, leadId=lid
            )
        old = current.status if current else None
        if current is None:
            members[lid] = Member(status, success, now, now)
        else:
            current.status, current.updated_at = status, now
            current.reached_success = current.reached_success or success
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
        camp = self.w.smart_campaigns[campaign_id]
        if not (camp.is_active and camp.is_requestable):
            raise MktoError(
                "1003",
                "Trigger campaign is not active or not requestable "
                "('Campaign is Requested' trigger missing)",
            )
        existing = [lid for lid in lead_ids if lid in self.w.leads]
        self.triggered.append(
            {
                "campaign_id": campaign_id,
                "lead_ids": existing,
                "tokens": tokens,
                "at": self.now_iso(),
            }
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
        camp = self.w.smart_campaigns[campaign_id]
        if camp.type != "batch":
            raise MktoError(
                "1003", "Cannot schedule a trigger campaign; only batch campaigns can be scheduled"
            )
        now = self._now()
        if run_at is not None and (run_at - now).days > 730:
            raise MktoError("1042", "Invalid runAt date: more than 2 years in the future")
        when = run_at if run_at is not None and run_at > now else now
        self.scheduled.append(
            {
                "campaign_id": campaign_id,
                "run_at": iso_z(when),
                "tokens": tokens,
                "at": self.now_iso(),
            }
        )
