"""Writes: batch property updates, static-list membership, global email opt-out and
archive. Every input ref gets exactly one RecordResult.

All four writes are idempotent on HubSpot (absolute property values, set membership,
"unsubscribe from all", archive), so a 5xx is retried like a read. The operations HubSpot
lacks raise ``NotSupportedByVendor``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from mopsgate.connectors.hubspot import ids
from mopsgate.connectors.hubspot.errors import errors_by_id
from mopsgate.connectors.hubspot.mapping import SPECS, to_prop
from mopsgate.connectors.hubspot.paths import UNSUBSCRIBE_ALL_BATCH
from mopsgate.connectors.hubspot.session import HubSpotSession, chunked
from mopsgate.crm.errors import InvalidRequest, NotSupportedByVendor, VendorError
from mopsgate.crm.records import PersonUpdate, RecordResult

ChunkCall = Callable[[list[str]], Awaitable[dict[str, RecordResult]]]

_NO_LADDER = (
    "HubSpot marketing campaigns have no member status ladder; attribution comes "
    "from campaign reports and cannot be set through the API"
)
_NO_SEND = (
    "HubSpot has no API to request or run a marketing campaign for given contacts; "
    "sends run from emails and workflows inside HubSpot"
)


def _ok(key: str) -> RecordResult:
    return RecordResult(ref=key, ok=True)


def _fail(key: str, code: str, message: str) -> RecordResult:
    return RecordResult(ref=key, ok=False, code=code, message=message)


def _assemble(
    refs: Sequence[str],
    keys: dict[str, str],
    by_key: dict[str, RecordResult],
    early: dict[str, RecordResult],
) -> list[RecordResult]:
    out = []
    for ref in refs:
        if ref in early:
            out.append(early[ref].model_copy(update={"ref": ref}))
            continue
        result = by_key.get(keys[ref]) or _fail(
            ref, "no_result", "HubSpot did not report on this record"
        )
        out.append(result.model_copy(update={"ref": ref}))
    return out


async def run_chunks(
    chunks: list[list[str]], call: ChunkCall, *, data_errors_per_record: bool
) -> dict[str, RecordResult]:
    """Send chunk after chunk. A failure before anything was written raises the typed
    error; after a partial apply every record still gets a result (the failed chunk with
    the error, later chunks as not attempted) so apply can record what happened. A 400
    about the data itself fails only its own chunk when ``data_errors_per_record``."""
    out: dict[str, RecordResult] = {}
    for n, chunk in enumerate(chunks):
        try:
            out.update(await call(chunk))
        except VendorError as exc:
            if isinstance(exc, InvalidRequest) and data_errors_per_record:
                out.update(_failed(chunk, exc.code or "invalid", exc.message))
                continue
            if n == 0:
                raise
            out.update(_failed(chunk, exc.code or type(exc).__name__, exc.message))
            for rest in chunks[n + 1 :]:
                out.update(
                    _failed(
                        rest,
                        "not_attempted",
                        f"not sent after an earlier batch failed: {exc.message}",
                    )
                )
            break
    return out


def _failed(keys: list[str], code: str, message: str) -> dict[str, RecordResult]:
    return {k: _fail(k, code, message) for k in keys}


class HubSpotWrites:
    def __init__(self, session: HubSpotSession) -> None:
        self.s = session

    async def update_people(self, updates: Sequence[PersonUpdate]) -> list[RecordResult]:
        refs = [u.ref for u in updates]
        valid, early = self.s.split_refs(refs)
        merged: dict[str, dict[str, str]] = {}
        for u in updates:
            if u.ref in early:
                continue
            locked = sorted(n for n in u.fields if n in SPECS and SPECS[n].read_only)
            if locked:
                early[u.ref] = _fail(
                    u.ref,
                    "read_only",
                    f"read-only HubSpot properties "
                    f"{locked} cannot be written (hs_email_optout changes "
                    "go through opt_out)",
                )
                continue
            merged.setdefault(valid[u.ref], {}).update({k: to_prop(v) for k, v in u.fields.items()})

        async def send(chunk: list[str]) -> dict[str, RecordResult]:
            body = await self.s.http.send(
                "POST",
                f"{self.s.paths.contacts}/batch/update",
                json={"inputs": [{"id": i, "properties": merged[i]} for i in chunk]},
            )
            return self._batch_outcome(chunk, body)

        by_id = await run_chunks(chunked(list(merged)), send, data_errors_per_record=True)
        return _assemble(refs, valid, by_id, early)

    @staticmethod
    def _batch_outcome(
        chunk: list[str], body: Any, *, lists_results: bool = True
    ) -> dict[str, RecordResult]:
        """Batch update lists what it changed; batch archive answers 204, or 207 listing
        only the failures."""
        failed = errors_by_id(body)
        done = {str(r.get("id")) for r in (body or {}).get("results", [])} if body else set()
        out: dict[str, RecordResult] = {}
        for key in chunk:
            if key in failed:
                out[key] = _fail(key, *failed[key])
            elif body is None or key in done or not lists_results:
                out[key] = _ok(key)
            else:
                out[key] = _fail(key, "no_result", "HubSpot did not report on this record")
        return out

    async def add_to_list(self, list_ref: str, person_refs: Sequence[str]) -> list[RecordResult]:
        return await self._membership(list_ref, person_refs, "add")

    async def remove_from_list(
        self, list_ref: str, person_refs: Sequence[str]
    ) -> list[RecordResult]:
        return await self._membership(list_ref, person_refs, "remove")

    async def _membership(
        self, list_ref: str, person_refs: Sequence[str], action: str
    ) -> list[RecordResult]:
        """Already-members (add) and non-members (remove) are successes: the end state is
        what was asked. DYNAMIC lists are refused by HubSpot with a 400 that is raised."""
        path = f"{self.s.paths.list(ids.native_id(list_ref, 'list'))}/memberships/{action}"
        valid, early = self.s.split_refs(person_refs)

        async def send(chunk: list[str]) -> dict[str, RecordResult]:
            body = await self.s.http.send("PUT", path, json=chunk) or {}
            missing = set(
                map(str, body.get("recordIdsMissing") or body.get("recordsIdsMissing") or [])
            )
            return {
                i: _fail(
                    i, "not_found", "HubSpot reports this record as missing (recordIdsMissing)"
                )
                if i in missing
                else _ok(i)
                for i in chunk
            }

        ids_ = list(dict.fromkeys(valid.values()))
        by_id = await run_chunks(chunked(ids_), send, data_errors_per_record=False)
        return _assemble(person_refs, valid, by_id, early)

    async def opt_out(self, person_refs: Sequence[str]) -> list[RecordResult]:
        """Unsubscribe-from-all via the 2026-03 batch endpoint (v3 only unsubscribes one
        subscription type, which does not set ``hs_email_optout``). It is keyed by address:
        the emails are those the apply's re-read returned moments ago, read again only when
        older (``connectors/recent.py``)."""
        valid, early = self.s.split_refs(person_refs)
        known, ask = self.s.emails.fresh(valid.values())
        records = await self.s.batch_read(ask, ["email"])
        email_of: dict[str, str] = {}
        for ref, native in valid.items():
            email = (
                known[native]
                if native in known
                else ((records.get(native) or {}).get("properties") or {}).get("email")
            )
            if native not in records and native not in known:
                early[ref] = _fail(ref, "not_found", "no such HubSpot contact")
            elif not email:
                early[ref] = _fail(ref, "no_email", "contact has no email address to opt out")
            else:
                email_of[ref] = str(email).strip().lower()

        async def send(chunk: list[str]) -> dict[str, RecordResult]:
            body = await self.s.http.send(
                "POST", UNSUBSCRIBE_ALL_BATCH, params={"channel": "EMAIL"}, json={"inputs": chunk}
            )
            failed = {k.lower(): v for k, v in errors_by_id(body).items()}
            return {a: _fail(a, *failed[a]) if a in failed else _ok(a) for a in chunk}

        addresses = list(dict.fromkeys(email_of.values()))
        by_email = await run_chunks(chunked(addresses), send, data_errors_per_record=True)
        return _assemble(person_refs, email_of, by_email, early)

    async def delete_people(self, person_refs: Sequence[str]) -> list[RecordResult]:
        """Archive (HubSpot's recoverable delete), never GDPR delete."""
        valid, early = self.s.split_refs(person_refs)

        async def send(chunk: list[str]) -> dict[str, RecordResult]:
            body = await self.s.http.send(
                "POST",
                f"{self.s.paths.contacts}/batch/archive",
                json={"inputs": [{"id": i} for i in chunk]},
            )
            return self._batch_outcome(chunk, body, lists_results=False)

        ids_ = list(dict.fromkeys(valid.values()))
        by_id = await run_chunks(chunked(ids_), send, data_errors_per_record=True)
        return _assemble(person_refs, valid, by_id, early)

    async def archive_list(self, list_ref: str) -> RecordResult:
        """``DELETE lists/{listId}``: HubSpot keeps a deleted list restorable for 90 days."""
        await self.s.http.send("DELETE", self.s.paths.list(ids.native_id(list_ref, "list")))
        return _ok(list_ref)

    async def merge_people(
        self, survivor_ref: str, loser_refs: Sequence[str], fields: dict[str, object]
    ) -> list[RecordResult]:
        """``POST contacts/merge`` once per loser (HubSpot merges two records a call, and a
        merge is not repeatable: never retried blindly). The chosen values are written on
        the survivor first. A failure part-way reports the losers merged so far as written,
        the failing one as unconfirmed and the rest as not attempted."""
        primary = ids.native_id(survivor_ref, ids.CONTACT)
        others = [(r, ids.native_id(r, ids.CONTACT)) for r in loser_refs]
        if fields:
            (written,) = await self.update_people([PersonUpdate(ref=survivor_ref, fields=fields)])
            if not written.ok:
                return [
                    written,
                    *(_fail(r, "not_attempted", "survivor not updated") for r in loser_refs),
                ]
        out = [_ok(survivor_ref)]
        for pos, (ref, native) in enumerate(others):
            try:
                await self.s.http.send(
                    "POST",
                    f"{self.s.paths.contacts}/merge",
                    json={"primaryObjectId": primary, "objectIdToMerge": native},
                    idempotent=False,
                )
            except VendorError as exc:
                if pos == 0:
                    raise
                out.append(_fail(ref, "unconfirmed", exc.message))
                out += [_fail(r, "not_attempted", exc.message) for r, _ in others[pos + 1 :]]
                return out
            out.append(_ok(ref))
        return out

    async def set_campaign_status(
        self, campaign_ref: str, person_refs: Sequence[str], status: str
    ) -> list[RecordResult]:
        raise NotSupportedByVendor(ids.VENDOR, "set_campaign_status", _NO_LADDER)

    async def trigger_campaign(
        self, campaign_ref: str, person_refs: Sequence[str], tokens: dict[str, str]
    ) -> list[RecordResult]:
        raise NotSupportedByVendor(ids.VENDOR, "trigger_campaign", _NO_SEND)

    async def schedule_campaign(
        self, campaign_ref: str, run_at: datetime, tokens: dict[str, str]
    ) -> RecordResult:
        raise NotSupportedByVendor(ids.VENDOR, "schedule_campaign", _NO_SEND)
