"""Writes of the Salesforce client, all through sObject Collections (≤200 records per call).

Results come back one per input ref, in input order. Per-record vendor failures are reported,
not raised. A call-level failure on the first chunk raises the typed error (nothing was
written); on a later chunk it is reported for that chunk and every record after it, because
raising would hide the chunks already written. Membership is CampaignMember rows, so removing
and re-statusing first look the rows up by SOQL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from mopsgate.connectors.salesforce import fields as cat
from mopsgate.connectors.salesforce import ids
from mopsgate.connectors.salesforce.errors import (
    Record,
    added_result,
    deleted_result,
    failed,
    save_result,
)
from mopsgate.connectors.salesforce.session import MAX_BATCH, SalesforceSession
from mopsgate.connectors.salesforce.soql_build import Select
from mopsgate.crm.errors import NotSupportedByVendor, VendorError
from mopsgate.crm.records import PersonUpdate, RecordResult

Item = tuple[int, str, Any]  # (input position, ref, payload)
Interpret = Callable[[str, Record], RecordResult]
NO_SEND = (
    "Salesforce campaigns record members and responses but do not send email; use "
    "the marketing automation platform (Marketo) to send"
)


class SalesforceWrites:
    def __init__(self, session: SalesforceSession) -> None:
        self.s = session

    async def _batched(
        self,
        n: int,
        pre: dict[int, RecordResult],
        items: list[Item],
        send: Callable[[list[Any]], Awaitable[Any]],
        interpret: Interpret = save_result,
    ) -> list[RecordResult]:
        done = dict(pre)
        for start in range(0, len(items), MAX_BATCH):
            chunk = items[start : start + MAX_BATCH]
            try:
                saves = await send([payload for _, _, payload in chunk])
            except VendorError as exc:
                if start == 0:
                    raise
                for pos, ref, _ in items[start:]:
                    done[pos] = failed(
                        ref, exc.code or type(exc).__name__, f"not applied: {exc.message}"
                    )
                break
            if not isinstance(saves, list) or len(saves) != len(chunk):
                saves = [
                    {
                        "success": False,
                        "errors": [
                            {"statusCode": "MALFORMED_RESPONSE", "message": "no SaveResult"}
                        ],
                    }
                ] * len(chunk)
            for (pos, ref, _), save in zip(chunk, saves, strict=True):
                done[pos] = interpret(ref, save)
        return [done[i] for i in range(n)]

    def _people(self, refs: Sequence[str]) -> tuple[dict[int, RecordResult], list[Item]]:
        pre: dict[int, RecordResult] = {}
        items: list[Item] = []
        for i, ref in enumerate(refs):
            try:
                obj, native = ids.parse_native(ref, ids.PERSON_OBJECTS)
            except ValueError as exc:
                pre[i] = failed(ref, "INVALID_REF", str(exc))
                continue
            items.append((i, ref, (obj, native)))
        return pre, items

    async def _collection(self, method: str, records: list[Any]) -> Any:
        return await self.s.http.send(
            method,
            self.s.path("composite", "sobjects"),
            json={"allOrNone": False, "records": records},
            idempotent=method != "POST",
        )

    async def _delete(self, native_ids: list[Any]) -> Any:
        return await self.s.http.send(
            "DELETE",
            self.s.path("composite", "sobjects"),
            params={"ids": ",".join(native_ids), "allOrNone": "false"},
        )

    # people ---------------------------------------------------------------------------------
    async def update_people(self, updates: Sequence[PersonUpdate]) -> list[RecordResult]:
        pre, parsed = self._people([u.ref for u in updates])
        items: list[Item] = []
        for pos, ref, (obj, native) in parsed:
            values = updates[pos].fields
            problem = _field_problem(obj, values)
            if problem:
                pre[pos] = failed(ref, *problem)
                continue
            items.append((pos, ref, {"attributes": {"type": obj}, "id": native, **values}))
        return await self._batched(
            len(updates), pre, items, lambda recs: self._collection("PATCH", recs)
        )

    async def opt_out(self, person_refs: Sequence[str]) -> list[RecordResult]:
        return await self.update_people(
            [PersonUpdate(ref=r, fields={"HasOptedOutOfEmail": True}) for r in person_refs]
        )

    async def archive_list(self, list_ref: str) -> RecordResult:
        """A list is a Campaign of Type 'List': archiving deactivates it (IsActive false)."""
        _, native = self.s.native(list_ref, (ids.CAMPAIGN,))
        record = {"attributes": {"type": ids.CAMPAIGN}, "id": native, "IsActive": False}
        (save,) = await self._collection("PATCH", [record])
        return save_result(list_ref, save)

    async def merge_people(
        self, survivor_ref: str, loser_refs: Sequence[str], fields: dict[str, object]
    ) -> list[RecordResult]:
        raise NotSupportedByVendor(
            ids.VENDOR,
            "merge_people",
            "Salesforce merges Leads and Contacts only through its SOAP API (or its UI), which "
            "mopsgate does not use",
        )

    async def delete_people(self, person_refs: Sequence[str]) -> list[RecordResult]:
        pre, parsed = self._people(person_refs)
        items = [(pos, ref, native) for pos, ref, (_obj, native) in parsed]
        return await self._batched(len(person_refs), pre, items, self._delete, deleted_result)

    # campaign membership --------------------------------------------------------------------
    async def add_to_list(self, list_ref: str, person_refs: Sequence[str]) -> list[RecordResult]:
        _, campaign = self.s.native(list_ref, (ids.CAMPAIGN,))
        pre, parsed = self._people(person_refs)
        items: list[Item] = [
            (
                pos,
                ref,
                {
                    "attributes": {"type": ids.CAMPAIGN_MEMBER},
                    "CampaignId": campaign,
                    ("ContactId" if obj == ids.CONTACT else "LeadId"): native,
                },
            )
            for pos, ref, (obj, native) in parsed
        ]
        return await self._batched(
            len(person_refs), pre, items, lambda recs: self._collection("POST", recs), added_result
        )

    async def remove_from_list(
        self, list_ref: str, person_refs: Sequence[str]
    ) -> list[RecordResult]:
        _, campaign = self.s.native(list_ref, (ids.CAMPAIGN,))
        pre, parsed = self._people(person_refs)
        members = await self._member_ids(campaign, [native for _, _, (_, native) in parsed])
        items: list[Item] = []
        for pos, ref, (_obj, native) in parsed:
            if native in members:
                items.append((pos, ref, members[native]))
            else:
                pre[pos] = RecordResult(
                    ref=ref,
                    ok=True,
                    code="not_member",
                    message="was not a member of this campaign; nothing changed",
                )
        self.s.member_ids.forget((campaign, native) for _, _, (_, native) in parsed)
        return await self._batched(len(person_refs), pre, items, self._delete, deleted_result)

    async def set_campaign_status(
        self, campaign_ref: str, person_refs: Sequence[str], status: str
    ) -> list[RecordResult]:
        _, campaign = self.s.native(campaign_ref, (ids.CAMPAIGN,))
        pre, parsed = self._people(person_refs)
        members = await self._member_ids(campaign, [native for _, _, (_, native) in parsed])
        items: list[Item] = []
        for pos, ref, (_obj, native) in parsed:
            if native not in members:
                pre[pos] = failed(
                    ref, "NOT_A_MEMBER", "not a member of this campaign; add them to it first"
                )
                continue
            items.append(
                (
                    pos,
                    ref,
                    {
                        "attributes": {"type": ids.CAMPAIGN_MEMBER},
                        "id": members[native],
                        "Status": status,
                    },
                )
            )
        return await self._batched(
            len(person_refs), pre, items, lambda recs: self._collection("PATCH", recs)
        )

    async def _member_ids(self, campaign: str, people: list[str]) -> dict[str, str]:
        """person id → CampaignMember id for those of ``people`` in the campaign: from the
        member read an apply made moments before (its stale check), the rest by SOQL."""
        known, ask = self.s.member_ids.fresh([(campaign, p) for p in people])
        out = {person: member for (_, person), member in known.items()}
        people = [person for _, person in ask]
        for start in range(0, len(people), MAX_BATCH):
            chunk = people[start : start + MAX_BATCH]
            q = Select(ids.CAMPAIGN_MEMBER, ["Id", "LeadId", "ContactId"])
            leads = [p for p in chunk if ids.object_of(p) == ids.LEAD]
            contacts = [p for p in chunk if ids.object_of(p) == ids.CONTACT]
            who = [q.in_("LeadId", leads)] if leads else []
            who += [q.in_("ContactId", contacts)] if contacts else []
            q.where(q.eq("CampaignId", campaign), q.any_of(*who))
            for row in await self.s.query_all(q.render()):
                out[row.get("LeadId") or row["ContactId"]] = row["Id"]
        return out

    # sends ----------------------------------------------------------------------------------
    async def trigger_campaign(
        self, campaign_ref: str, person_refs: Sequence[str], tokens: dict[str, str]
    ) -> list[RecordResult]:
        raise NotSupportedByVendor(ids.VENDOR, "trigger_campaign", NO_SEND)

    async def schedule_campaign(
        self, campaign_ref: str, run_at: datetime, tokens: dict[str, str]
    ) -> RecordResult:
        raise NotSupportedByVendor(ids.VENDOR, "schedule_campaign", NO_SEND)


def _field_problem(obj: str, values: dict[str, Any]) -> tuple[str, str] | None:
    specs = {s.name: s for s in cat.person_specs(obj)}
    if not values:
        return "NO_CHANGES", "no fields to update"
    for name, value in values.items():
        spec = specs.get(name)
        if spec is None:
            return "INVALID_FIELD", f"{name!r} is not a field of {obj}"
        if spec.read_only:
            return "READ_ONLY_FIELD", f"{name} is read-only in Salesforce"
        if spec.role == "email_opt_out" and value is not True:
            return "CONSENT_FLOOR", "an email opt-out is never reversed through mopsgate"
    return None
