"""URL paths of both HubSpot path families.

HubSpot is moving from numeric versions (``/crm/v3/...``) to date versions
(``/crm/objects/2026-03/...``); the family is configuration, not code. The emulator mounts
every route under both families from this one table, so client and emulator cannot drift.
Path segments passed in here must already be validated ids (see ``ids.NUMERIC_ID``/``GUID``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

ApiFamily = Literal["v3", "2026-03"]
FAMILIES: tuple[ApiFamily, ...] = ("v3", "2026-03")

# Paths that exist only in one version regardless of the configured family.
EMAIL_EVENTS = "/email/public/v1/events"  # legacy per-recipient email events [U]
DAILY_USAGE = "/account-info/v3/api-usage/daily/private-apps"
OAUTH_TOKEN = "/oauth/v1/token"  # noqa: S105 - a path, not a secret
UNSUBSCRIBE_ALL_BATCH = "/communication-preferences/2026-03/statuses/batch/unsubscribe-all"


def _seg(value: str) -> str:
    return quote(value, safe="")


@dataclass(frozen=True)
class Paths:
    family: ApiFamily = "v3"

    def _crm(self, api: str) -> str:
        return f"/crm/v3/{api}" if self.family == "v3" else f"/crm/{api}/{self.family}"

    def objects(self, object_type: str) -> str:
        if self.family == "v3":
            return f"/crm/v3/objects/{object_type}"
        return f"/crm/objects/{self.family}/{object_type}"

    @property
    def contacts(self) -> str:
        return self.objects("contacts")

    def contact(self, native_id: str) -> str:
        return f"{self.contacts}/{_seg(native_id)}"

    @property
    def contact_properties(self) -> str:
        return self.properties("contacts")

    def properties(self, object_type: str) -> str:
        return f"{self._crm('properties')}/{object_type}"

    def associations(self, object_type: str) -> str:
        """Where a record's associations hang (``…/{id}/associations/{to}``): the v4 API for
        the v3 family, the object itself in the dated family."""
        if self.family == "v3":
            return f"/crm/v4/objects/{object_type}"
        return self.objects(object_type)

    @property
    def owners(self) -> str:
        return self._crm("owners")

    @property
    def lists(self) -> str:
        return self._crm("lists")

    def list(self, list_id: str) -> str:
        return f"{self.lists}/{_seg(list_id)}"

    def record_memberships(self, record_id: str) -> str:
        return f"{self.lists}/records/0-1/{_seg(record_id)}/memberships"

    @property
    def campaigns(self) -> str:
        if self.family == "v3":
            return "/marketing/v3/campaigns"
        return f"/marketing/campaigns/{self.family}"

    def campaign(self, guid: str) -> str:
        return f"{self.campaigns}/{_seg(guid)}"

    @property
    def emails(self) -> str:
        if self.family == "v3":
            return "/marketing/v3/emails"
        return f"/marketing/emails/{self.family}"
