"""Campaign reads of the Marketo client.

A mopsgate campaign is either a Marketo *program* (members with a progression status on the
channel's ladder) or a *smart campaign* (the thing that is triggered or scheduled).
"""

from __future__ import annotations

from typing import Any

from mopsgate.connectors.marketo import ids, mapping
from mopsgate.connectors.marketo.ids import CAMPAIGN_OBJECTS, VENDOR, native_id
from mopsgate.connectors.marketo.session import Fetch, MarketoSession, phased_page
from mopsgate.crm.errors import NotFoundError, NotSupportedByVendor
from mopsgate.crm.records import Campaign, CampaignMember, Page


class MarketoCampaigns:
    def __init__(self, session: MarketoSession) -> None:
        self.s = session
        self._channels: dict[str, dict[str, Any]] | None = None
        self._program_emails: dict[int, bool | None] = {}  # program id -> sends email

    async def _channel(self, name: str | None) -> dict[str, Any] | None:
        if self._channels is None:
            channels: dict[str, dict[str, Any]] = {}
            offset = 0
            while True:
                body = await self.s.get(
                    "/rest/asset/v1/channels.json", {"offset": offset, "maxReturn": 200}
                )
                got = body.get("result") or []
                channels.update({c["name"]: c for c in got})
                if len(got) < 200:
                    break
                offset += 200
            self._channels = channels
        return self._channels.get(name or "")

    async def asset(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        result = (await self.s.get(path, params)).get("result") or []
        if not result:
            raise NotFoundError(VENDOR, f"No asset found at {path}", code="702")
        first: dict[str, Any] = result[0]
        return first

    async def list_campaigns(self, *, cursor: str | None = None, limit: int = 50) -> Page[Campaign]:
        async def programs(token: str | None, n: int) -> tuple[list[Campaign], str | None]:
            offset, size = int(token or 0), min(n, 200)
            got = await self._programs(offset, size)
            out = [mapping.program(r, await self._channel(r.get("channel"))) for r in got]
            return out, _next(offset, size, got)

        async def smart(token: str | None, n: int) -> tuple[list[Campaign], str | None]:
            offset, size = int(token or 0), min(n, 200)
            got = await self._assets("/rest/asset/v1/smartCampaigns.json", offset, size)
            # a listing does not read smart lists: the audience is not known
            return [mapping.smart_campaign(r, audience_known=False) for r in got], _next(
                offset, size, got
            )

        phases: list[Fetch[Campaign]] = [programs, smart]
        items, nxt = await phased_page(phases, cursor, max(1, min(limit, 200)))
        return Page[Campaign](items=items, next_cursor=nxt)

    async def audience_page(self, *, cursor: str | None = None, limit: int = 50) -> Page[Campaign]:
        """The listing as the send-list floor reads it, in the fewest calls Marketo allows.
        A program's listing record is the whole program (its type says whether it emails; it
        names no audience). A smart campaign's audience is in its smart list's rules, one read
        per active campaign that may send email (one in a program that sends none is no send,
        and its audience is left unknown); the list names those rules give are resolved
        together in one ``lists.json`` call, and whether the program a campaign sits in emails
        is known from the programs listed before it (read only when it was not listed)."""
        raw: dict[str, dict[str, Any]] = {}

        async def programs(token: str | None, n: int) -> tuple[list[Campaign], str | None]:
            offset, size = int(token or 0), min(n, 200)
            got = await self._programs(offset, size)
            return [mapping.program(r, None) for r in got], _next(offset, size, got)

        async def smart(token: str | None, n: int) -> tuple[list[Campaign], str | None]:
            offset, size = int(token or 0), min(n, 200)
            got = await self._assets("/rest/asset/v1/smartCampaigns.json", offset, size)
            out = [mapping.smart_campaign(r, audience_known=False) for r in got]
            raw.update((c.ref, r) for c, r in zip(out, got, strict=True))
            return out, _next(offset, size, got)

        phases: list[Fetch[Campaign]] = [programs, smart]
        items, nxt = await phased_page(phases, cursor, max(1, min(limit, 200)))
        emails = {
            c.ref: await self._program_sends_email(raw[c.ref])
            for c in items
            if c.ref in raw and c.active is not False
        }
        # Only a campaign that may send email has an audience the floor (or a reviewer) needs:
        # one inside a program that sends none (an Event) costs no smart-list read.
        rules = {
            ref: await self._audience_names(raw[ref]["id"])
            for ref, sends in emails.items()
            if sends is not False
        }
        resolved = await self._list_ids([names[0] for names in rules.values() if _single(names)])
        out: list[Campaign] = []
        for c in items:
            if c.ref in rules:
                audience, known = _audience_of(rules[c.ref], resolved)
                c = c.model_copy(update={"audience_list_ref": audience, "audience_known": known})
            if emails.get(c.ref) is not None:
                c = c.model_copy(update={"sends_email": emails[c.ref]})
            out.append(c)
        return Page[Campaign](items=out, next_cursor=nxt)

    async def _assets(self, path: str, offset: int, size: int) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = (
            await self.s.get(path, {"offset": offset, "maxReturn": size})
        ).get("result") or []
        return got

    async def _programs(self, offset: int, size: int) -> list[dict[str, Any]]:
        """A page of programs; whether each sends email is kept (a program's type is fixed)."""
        got = await self._assets("/rest/asset/v1/programs.json", offset, size)
        self._program_emails.update({r["id"]: mapping.program(r, None).sends_email for r in got})
        return got

    async def _program_sends_email(self, record: dict[str, Any]) -> bool | None:
        """Whether the program a smart campaign sits in sends email (None: not in a program).
        A program's type never changes, so what a listing or a read said is kept."""
        folder = record.get("folder") or {}
        if folder.get("type") != "Program" or not isinstance(folder.get("id"), int):
            return None
        pid = folder["id"]
        if pid not in self._program_emails:
            parent = await self.asset(f"/rest/asset/v1/program/{pid}.json")
            self._program_emails[pid] = mapping.program(parent, None).sends_email
        return self._program_emails[pid]

    async def get_campaign(self, ref: str, *, audience: bool = True) -> Campaign:
        obj, cid = native_id(ref, *CAMPAIGN_OBJECTS)
        if obj == ids.PROGRAM:
            rec = await self.asset(f"/rest/asset/v1/program/{cid}.json")
            return mapping.program(rec, await self._channel(rec.get("channel")))
        rec = await self.asset(f"/rest/asset/v1/smartCampaign/{cid}.json")
        if not audience:
            campaign = mapping.smart_campaign(rec, audience_known=False)
        else:
            names = await self._audience_names(cid)
            resolved = await self._list_ids(names[:1] if _single(names) else [])
            audience_ref, known = _audience_of(names, resolved)
            campaign = mapping.smart_campaign(rec, audience_ref, audience_known=known)
        # A smart campaign inside a program that sends no e-mail (an Event) sends none
        # either: flow steps are not readable, the program type is.
        if (emails := await self._program_sends_email(rec)) is not None:
            campaign = campaign.model_copy(update={"sends_email": emails})
        return campaign

    async def _audience_names(self, campaign_id: int) -> list[str]:
        """The list names in the campaign's "Member of List" filters."""
        sl = await self.asset(
            f"/rest/asset/v1/smartCampaign/{campaign_id}/smartList.json", {"includeRules": "true"}
        )
        return [
            v
            for f in (sl.get("rules") or {}).get("filters", [])
            if f.get("name") == "Member of List"
            for c in f.get("conditions", [])
            for v in c.get("values", [])
        ]

    async def _list_ids(self, names: list[str]) -> dict[str, list[int]]:
        """Static list ids by exact name, for several names in one call (``name`` takes a
        comma-separated list; a name holding a comma never gets here)."""
        wanted = sorted(set(names))
        if not wanted:
            return {}
        found = await self.s.collect("/rest/v1/lists.json", {"name": ",".join(wanted)})
        out: dict[str, list[int]] = {n: [] for n in wanted}
        for rec in found:
            if rec.get("name") in out:
                out[rec["name"]].append(rec["id"])
        return out

    async def campaign_members(
        self, ref: str, *, cursor: str | None = None, limit: int = 200
    ) -> Page[CampaignMember]:
        obj, cid = native_id(ref, *CAMPAIGN_OBJECTS)
        if obj == ids.SMART_CAMPAIGN:
            raise NotSupportedByVendor(
                VENDOR,
                "campaign_members",
                (
                    "smart campaigns have no member list in Marketo's REST API; read the members "
                    "of the program that owns the campaign"
                ),
            )

        async def fetch(token: str | None, n: int) -> tuple[list[CampaignMember], str | None]:
            params: dict[str, Any] = {"batchSize": min(n, 300)}
            if token:
                params["nextPageToken"] = token
            body = await self.s.get(f"/rest/v1/programs/{cid}/members.json", params)
            nxt = body.get("nextPageToken") if body.get("moreResult") else None
            return [mapping.program_member(cid, r) for r in body.get("result") or []], nxt

        items, nxt = await phased_page([fetch], cursor, max(1, min(limit, 300)))
        return Page[CampaignMember](items=items, next_cursor=nxt)


def _next(offset: int, size: int, got: list[dict[str, Any]]) -> str | None:
    return str(offset + size) if len(got) == size else None


def _single(names: list[str]) -> bool:
    return len(names) == 1 and "," not in names[0]


def _audience_of(names: list[str], resolved: dict[str, list[int]]) -> tuple[str | None, bool]:
    """The static list named by a campaign's "Member of List" filter, and whether that is all
    of its audience: several lists, or a name that does not resolve to exactly one list, leave
    the audience unknown (the floor then fails closed) rather than silently partial."""
    if not names:
        return None, True
    if not _single(names) or len(found := resolved.get(names[0], [])) != 1:
        return None, False
    return mapping.ref(ids.LIST, found[0]), True
