"""Writes of the Marketo client (only ever called by apply, after approval).

Each write goes to Marketo's batch endpoint in chunks of its cap (300 leads; 100 for Request
Campaign) and returns one result per input ref. Request and Schedule Campaign are sent with
``idempotent=False``: a repeat after a timeout could email people twice, so only refusals
Marketo makes before running anything (rate limit, expired token) are retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from mopsgate.connectors.marketo import ids
from mopsgate.connectors.marketo.capabilities import CAPABILITIES
from mopsgate.connectors.marketo.ids import CAMPAIGN_OBJECTS, VENDOR, is_lead, native_id
from mopsgate.connectors.marketo.lists import MarketoLists
from mopsgate.connectors.marketo.session import MarketoSession
from mopsgate.crm.errors import InvalidRequest, NotFoundError, NotSupportedByVendor
from mopsgate.crm.records import PersonUpdate, RecordResult

CAPS = CAPABILITIES
SMART_LIST_WRITE = (
    "smart lists are rule-based: membership follows their filters and cannot "
    "be written; add people to a static list instead"
)


def _tokens(tokens: dict[str, str]) -> list[dict[str, str]]:
    """My-tokens as Marketo names them: ``{{my.name}}`` (bare names are wrapped)."""
    return [
        {"name": k if k.startswith("{{") else f"{{{{my.{k}}}}}", "value": v}
        for k, v in tokens.items()
    ]


class MarketoWrites:
    def __init__(self, session: MarketoSession, lists: MarketoLists) -> None:
        self.s = session
        self.lists = lists

    async def _sync(self, records: dict[int, dict[str, Any]], ids_: list[int]) -> list[Any]:
        body = {
            "action": "updateOnly",
            "lookupField": "id",
            "input": [{**records[i], "id": i} for i in ids_],
        }
        return list((await self.s.send("POST", "/rest/v1/leads.json", body)).get("result") or [])

    async def update_people(self, updates: Sequence[PersonUpdate]) -> list[RecordResult]:
        by_id: dict[int, dict[str, Any]] = {}
        refs: list[str] = []
        for upd in updates:
            refs.append(upd.ref)
            try:
                lead = native_id(upd.ref, ids.LEAD)[1]
            except InvalidRequest:
                continue  # reported per record by _chunked
            by_id[lead] = {k: v for k, v in upd.fields.items() if k != "id"}
        return await self.s.chunked(
            refs, CAPS.update_batch, (ids.LEAD,), lambda part: self._sync(by_id, part)
        )

    async def opt_out(self, person_refs: Sequence[str]) -> list[RecordResult]:
        """``unsubscribed = true`` through Sync Leads; there is no opt-in counterpart."""
        records = {
            native_id(r, ids.LEAD)[1]: {"unsubscribed": True} for r in person_refs if is_lead(r)
        }
        return await self.s.chunked(
            list(person_refs),
            CAPS.update_batch,
            (ids.LEAD,),
            lambda part: self._sync(records, part),
        )

    async def _list_write(
        self, method: str, operation: str, list_ref: str, person_refs: Sequence[str]
    ) -> list[RecordResult]:
        list_id = native_id(list_ref, ids.LIST)[1]
        path = f"/rest/v1/lists/{list_id}/leads.json"

        async def call(part: list[int]) -> list[Any]:
            body = {"input": [{"id": i} for i in part]}
            return list((await self.s.send(method, path, body)).get("result") or [])

        cap = CAPS.list_add_batch if method == "POST" else CAPS.list_remove_batch
        try:
            return await self.s.chunked(list(person_refs), cap, (ids.LEAD,), call)
        except NotFoundError:
            await self.lists.refuse_if_smart(list_id, operation, SMART_LIST_WRITE)
            raise

    async def add_to_list(self, list_ref: str, person_refs: Sequence[str]) -> list[RecordResult]:
        return await self._list_write("POST", "add_to_list", list_ref, person_refs)

    async def remove_from_list(
        self, list_ref: str, person_refs: Sequence[str]
    ) -> list[RecordResult]:
        return await self._list_write("DELETE", "remove_from_list", list_ref, person_refs)

    async def set_campaign_status(
        self, campaign_ref: str, person_refs: Sequence[str], status: str
    ) -> list[RecordResult]:
        """Program progression is forward-only in Marketo: a lead already at or past
        ``status`` is reported ok=False with code 1037, never forced backwards."""
        obj, cid = native_id(campaign_ref, *CAMPAIGN_OBJECTS)
        if obj != ids.PROGRAM:
            raise NotSupportedByVendor(
                VENDOR,
                "set_campaign_status",
                ("smart campaigns have no member statuses; set the status on the program"),
            )

        async def call(part: list[int]) -> list[Any]:
            body = {"statusName": status, "input": [{"leadId": i} for i in part]}
            path = f"/rest/v1/programs/{cid}/members/status.json"
            return list((await self.s.send("POST", path, body)).get("result") or [])

        return await self.s.chunked(list(person_refs), CAPS.status_batch, (ids.LEAD,), call)

    def _smart_campaign(self, ref: str, operation: str) -> int:
        obj, cid = native_id(ref, *CAMPAIGN_OBJECTS)
        if obj != ids.SMART_CAMPAIGN:
            raise NotSupportedByVendor(
                VENDOR,
                operation,
                (
                    "Marketo programs cannot be requested or scheduled; use one of the program's "
                    "smart campaigns"
                ),
            )
        return cid

    async def trigger_campaign(
        self, campaign_ref: str, person_refs: Sequence[str], tokens: dict[str, str]
    ) -> list[RecordResult]:
        cid = self._smart_campaign(campaign_ref, "trigger_campaign")
        path = f"/rest/v1/campaigns/{cid}/trigger.json"

        async def call(part: list[int]) -> None:
            body = {"input": {"leads": [{"id": i} for i in part], "tokens": _tokens(tokens)}}
            await self.s.send("POST", path, body, idempotent=False)

        return await self.s.chunked(list(person_refs), CAPS.trigger_batch, (ids.LEAD,), call)

    async def schedule_campaign(
        self, campaign_ref: str, run_at: datetime, tokens: dict[str, str]
    ) -> RecordResult:
        cid = self._smart_campaign(campaign_ref, "schedule_campaign")
        if run_at.tzinfo is None:
            raise InvalidRequest(VENDOR, "run_at needs a timezone (Marketo runAt is absolute)")
        run = run_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")
        body = {"input": {"runAt": run, "tokens": _tokens(tokens)}}
        await self.s.send("POST", f"/rest/v1/campaigns/{cid}/schedule.json", body, idempotent=False)
        return RecordResult(ref=campaign_ref, ok=True)

    async def archive_list(self, list_ref: str) -> RecordResult:
        """Delete Static List (the asset API); smart lists are not the API's to delete."""
        list_id = native_id(list_ref, ids.LIST)[1]
        path = f"/rest/asset/v1/staticList/{list_id}/delete.json"
        try:
            await self.s.send("POST", path, None)
        except NotFoundError:
            await self.lists.refuse_if_smart(
                list_id, "archive_list", "smart lists are managed in Marketo's UI"
            )
            raise
        return RecordResult(ref=list_ref, ok=True)

    async def merge_people(
        self, survivor_ref: str, loser_refs: Sequence[str], fields: dict[str, object]
    ) -> list[RecordResult]:
        """Merge Leads (``POST leads/{id}/merge.json?leadIds=…``, at most 3 losers, never in
        the CRM): the chosen values are written on the winner first, then the merge. Marketo
        answers the merge as a whole, so every record shares its outcome."""
        winner = native_id(survivor_ref, ids.LEAD)[1]
        losers = [native_id(r, ids.LEAD)[1] for r in loser_refs]
        if not 1 <= len(losers) <= 3:
            raise InvalidRequest(VENDOR, "a Marketo merge takes 1 to 3 losing leads")
        if fields:
            (written,) = await self.update_people([PersonUpdate(ref=survivor_ref, fields=fields)])
            if not written.ok:
                return [written, *(_not_attempted(r, written) for r in loser_refs)]
        params = {"leadIds": ",".join(map(str, losers)), "mergeInCRM": "false"}
        await self.s.http.send(
            "POST", f"/rest/v1/leads/{winner}/merge.json", params=params, idempotent=False
        )
        return [RecordResult(ref=r, ok=True) for r in (survivor_ref, *loser_refs)]

    async def delete_people(self, person_refs: Sequence[str]) -> list[RecordResult]:
        async def call(part: list[int]) -> list[Any]:
            body = {"input": [{"id": i} for i in part]}
            return list(
                (await self.s.send("POST", "/rest/v1/leads/delete.json", body)).get("result") or []
            )

        return await self.s.chunked(list(person_refs), CAPS.delete_batch, (ids.LEAD,), call)


def _not_attempted(ref: str, cause: RecordResult) -> RecordResult:
    return RecordResult(
        ref=ref,
        ok=False,
        code="not_attempted",
        message=f"not merged: writing the chosen values on the survivor failed ({cause.code})",
    )
