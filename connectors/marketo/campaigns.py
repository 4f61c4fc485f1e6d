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
        # The records of the latest listing, by ref: the listing returns the same record as a
        # read by id, so finding a listed campaign's audience need not read it again.
        self._listed: dict[str, dict[str, Any]] = {}

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
            got = (
                await self.s.get(
                    "/rest/asset/v1/programs.json", {"offset": offset, "maxReturn": size}
                )
            ).get("result") or []
            self._listed.update({mapping.ref(ids.PROGRAM, r["id"]): r for r in got})
            out = [mapping.program(r, await self._channel(r.get("channel"))) for r in got]
            return out, (str(offset + size) if len(got) == size else None)

        async def smart(token: str | None, n: int) -> tuple[list[Campaign], str | None]:
            offset, size = int(token or 0), min(n, 200)
            got = (
                await self.s.get(
                    "/rest/asset/v1/smartCampaigns.json", {"offset": offset, "maxReturn": size}
                )
            ).get("result") or []
            self._listed.update({mapping.ref(ids.SMART_CAMPAIGN, r["id"]): r for r in got})
            return (  # a listing does not read smart lists: the audience is not known
                [mapping.smart_campaign(r, audience_known=False) for r in got],
                str(offset + size) if len(got) == size else None,
            )

        phases: list[Fetch[Campaign]] = [programs, smart]
        items, nxt = await phased_page(phases, cursor, max(1, min(limit, 200)))
        return Page[Campaign](items=items, next_cursor=nxt)

    async def campaign_audience(self, summary: Campaign) -> Campaign:
        """A listed program is already whole (programs have no audience list to read); a
        listed smart campaign needs only its smart list (and its program, if not listed)."""
        listed = self._listed.get(summary.ref)
        if listed is None:
            return await self.get_campaign(summary.ref)
        if summary.kind == "program":
            return summary
        return await self._smart(listed, from_listing=True)

    async def get_campaign(self, ref: str) -> Campaign:
        obj, cid = native_id(ref, *CAMPAIGN_OBJECTS)
        if obj == ids.PROGRAM:
            rec = await self.asset(f"/rest/asset/v1/program/{cid}.json")
            return mapping.program(rec, await self._channel(rec.get("channel")))
        return await self._smart(await self.asset(f"/rest/asset/v1/smartCampaign/{cid}.json"))

    async def _smart(self, rec: dict[str, Any], *, from_listing: bool = False) -> Campaign:
        cid = int(rec["id"])
        audience, known = await self._audience(cid)
        campaign = mapping.smart_campaign(rec, audience, audience_known=known)
        folder = rec.get("folder") or {}
        if folder.get("type") == "Program" and isinstance(folder.get("id"), int):
            # A smart campaign inside a program that sends no e-mail (an Event) sends none
            # either: flow steps are not readable, the program type is.
            listed = self._listed.get(mapping.ref(ids.PROGRAM, folder["id"]))
            parent = (listed if from_listing else None) or await self.asset(
                f"/rest/asset/v1/program/{folder['id']}.json"
            )
            campaign = campaign.model_copy(
                update={"sends_email": mapping.program(parent, None).sends_email}
            )
        return campaign

    async def _audience(self, campaign_id: int) -> tuple[str | None, bool]:
        """The static list named by the campaign's "Member of List" filter, and whether that is
        all of it: several lists, or a name that does not resolve to exactly one list, leave
        the audience unknown (the floor then fails closed) rather than silently partial."""
        sl = await self.asset(
            f"/rest/asset/v1/smartCampaign/{campaign_id}/smartList.json", {"includeRules": "true"}
        )
        names = [
            v
            for f in (sl.get("rules") or {}).get("filters", [])
            if f.get("name") == "Member of List"
            for c in f.get("conditions", [])
            for v in c.get("values", [])
        ]
        if not names:
            return None, True
        if len(names) != 1 or "," in names[0]:
            return None, False
        found = (await self.s.get("/rest/v1/lists.json", {"name": names[0]})).get("result") or []
        if len(found) != 1:
            return None, False
        return mapping.ref(ids.LIST, found[0]["id"]), True

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
