"""find_cross_system_drift: everyone whose consent, lifecycle stage or owner differs between
connectors, consent drift first, paged over one scan of each connector (``snapshots``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import NotSupportedByVendor
from mopsgate.crm.records import Page, Person, PersonQuery
from mopsgate.governance.consent_floor import normalise_email
from mopsgate.governance.errors import NotPermitted, NotSupported
from mopsgate.governance.pii import mask_email
from mopsgate.governance.policy import FieldAccess
from mopsgate.tools.common import (
    ConnectorName,
    Cursor,
    Limit,
    connector,
    read_access,
    scanned_once,
)
from mopsgate.tools.cross_system_common import (
    ORDER,
    OwnerBook,
    ShownValue,
    compare_key,
    shown_value,
)
from mopsgate.tools.paging import Cursor as PageCursor
from mopsgate.tools.paging import decode_cursor, encode_cursor
from mopsgate.tools.person_matching import (
    MatchOmission,
    MatchRights,
    ObjectRights,
    allowed_connectors,
    by_email,
)
from mopsgate.tools.spec import Target, ToolContext, ToolInput

MAX_SCAN = 20_000  # records read per connector
DriftKind = Literal["consent", "lifecycle_stage", "owner"]


DRIFT_DEFINITION = (
    "A person is everyone's records with one normalised email. They drift when connectors that "
    "hold them disagree: consent (a connector's verdict is the worst status among its records "
    "of the address: opted_out, suppressed, unknown, subscribed), lifecycle stage (in the "
    "common vocabulary: HubSpot's 'marketingqualifiedlead' is 'mql'), or owner (compared by "
    "the owner's email, since each system has its own owner ids). Consent drift comes first, "
    "people mailable in one system but not in another first of all."
)


class DriftIn(ToolInput):
    kinds: list[DriftKind] | None = Field(
        None, description="only these kinds of drift; default all three"
    )
    connectors: list[ConnectorName] | None = Field(
        None, min_length=2, description="compare these connectors; default every one you may read"
    )
    limit: Limit = 25
    cursor: Cursor = None

    def target(self) -> Target:
        return Target.NONE


class ConnectorView(BaseModel):
    refs: list[str]
    consent: str
    lifecycle_stage: ShownValue = None
    owner: ShownValue = None


class DriftItem(BaseModel):
    email: str = Field(description="the person's normalised email, masked")
    kinds: list[DriftKind]
    mailable_somewhere_not_elsewhere: bool = Field(
        description="subscribed on one connector while opted out, suppressed or of unknown "
        "consent on another: the consent drift to fix first"
    )
    by_connector: dict[str, ConnectorView]


class DriftOut(BaseModel):
    items: list[DriftItem]
    next_cursor: str | None = Field(description="pass back for the next page; null at end")
    total: int
    counts: dict[str, int] = Field(
        description="people per kind of drift (a person may count under several)"
    )
    people_compared: int = Field(description="people held by at least two of the connectors")
    records_scanned: dict[str, int]
    connectors_checked: list[str]
    not_checked: dict[str, str]
    complete: bool = Field(description="false when a connector's scan stopped at its limit")
    not_matched_on: list[MatchOmission] = Field(
        default_factory=list,
        description="connector objects left out of the comparison because you may not read "
        "the email it joins on",
    )
    definition: str = DRIFT_DEFINITION


async def _scan(client: Connector) -> tuple[list[Person], bool] | None:
    """Every person record of a connector that can list them (None where the vendor can only
    look people up by a key, as Marketo: those are looked up by the others' emails)."""
    out: list[Person] = []
    cursor: str | None = None
    try:
        while len(out) < MAX_SCAN:
            page: Page[Person] = await client.search_people(
                PersonQuery(), cursor=cursor, limit=client.capabilities.search_page
            )
            out += page.items
            cursor = page.next_cursor
            if not cursor:
                return out, True
    except NotSupportedByVendor:
        return None
    return out, False


def _worst(people: Sequence[Person]) -> str:
    return min((p.consent.status for p in people), key=ORDER.index)


class _Views:
    """Per connector, the value a person's records hold for each kind (None: not comparable),
    and, for the few people who drift, what the caller is shown of them."""

    def __init__(self, ctx: ToolContext, clients: dict[str, Connector], owners: OwnerBook) -> None:
        self.ctx, self.clients, self.owners = ctx, clients, owners
        self.cat = ctx.manifest.catalogue
        self._access: dict[tuple[str, str], FieldAccess] = {}
        self._role_field: dict[tuple[str, str, str], str | None] = {}

    def _read_access(self, conn: str, obj: str) -> FieldAccess:
        """Decided once per connector object: every person of the scan asks."""
        access = self._access.get((conn, obj))
        if access is None:
            access = read_access(self.ctx, conn, obj, "find_cross_system_drift")
            self._access[(conn, obj)] = access
        return access

    def _readable_field(self, conn: str, obj: str, role: str) -> str | None:
        """The field holding ``role`` when the caller may read it, else None (decided once
        per connector object)."""
        key = (conn, obj, role)
        if key not in self._role_field:
            name = self.cat.field_for(conn, obj, role)
            readable = name is not None and self._read_access(conn, obj).can_read(name)
            self._role_field[key] = name if readable else None
        return self._role_field[key]

    def keys(self, conn: str, people: list[Person]) -> dict[str, str | None]:
        """What each kind is compared on for these records of one person on ``conn``."""
        client = self.clients[conn]
        # A status read off a field the caller may not read would reveal that field: such
        # records make the connector's consent not comparable (and shown as withheld).
        consent_readable = all(
            self._read_access(conn, p.object).can_read(name)
            for p in people
            for name in p.consent.status_sources
        )
        keys: dict[str, str | None] = {"consent": _worst(people) if consent_readable else None}
        for kind, role in (("lifecycle_stage", "lifecycle_stage"), ("owner", "owner_id")):
            seen: set[str | None] = set()
            for person in people:
                if self._readable_field(conn, person.object, role) is None:
                    keys[kind] = None
                    break
                common = client.common_value(person, role)
                if role == "owner_id":
                    seen.add(self.owners.key(conn, None if common is None else str(common)))
                else:
                    seen.add(compare_key(common))
            else:
                keys[kind] = "|".join(sorted(str(k) for k in seen))
        return keys

    def view(self, conn: str, people: list[Person], keys: dict[str, str | None]) -> ConnectorView:
        """What the caller is shown of one drifting person's records on ``conn``."""
        client = self.clients[conn]
        shown: dict[str, ShownValue] = {}
        for kind, role in (("lifecycle_stage", "lifecycle_stage"), ("owner", "owner_id")):
            if keys[kind] is None:
                continue
            seen: dict[str | None, ShownValue] = {}  # compared value -> the last one shown
            for person in people:
                common = client.common_value(person, role)
                if role == "owner_id":
                    value, key = self.owners.shown(conn, None if common is None else str(common))
                    seen[key] = value
                else:
                    name = self._readable_field(conn, person.object, role)
                    access = self._read_access(conn, person.object)
                    seen[compare_key(common)] = shown_value(person, access, name, common)
            shown[kind] = " | ".join(sorted({str(v) for v in seen.values()}))
        return ConnectorView(
            refs=sorted(p.ref for p in people),
            consent=keys["consent"] or "withheld",
            lifecycle_stage=shown.get("lifecycle_stage"),
            owner=shown.get("owner"),
        )


@dataclass(frozen=True)
class _Drift:
    """Everything one drift query found, before paging (kept for its later pages)."""

    items: list[DriftItem]
    compared: int
    scanned: dict[str, int]
    complete: bool
    not_matched_on: list[MatchOmission]


async def _drift(ctx: ToolContext, names: list[str], kinds: list[DriftKind]) -> _Drift:
    """Read every connector and compare everyone found on two or more of them."""
    tool = "find_cross_system_drift"
    clients = {n: connector(ctx, n) for n in names}
    rights = MatchRights(ctx, tool, names)
    readable_object = ObjectRights(ctx, tool).allows
    owners = OwnerBook()
    held: dict[str, dict[str, list[Person]]] = {n: {} for n in names}  # conn -> key -> records
    scanned: dict[str, int] = {}
    complete = True
    lookup: list[str] = []
    for name, client in clients.items():
        await owners.load(client)
        got = await _scan(client)
        if got is None:
            lookup.append(name)
            continue
        records, whole = got
        complete = complete and whole
        readable = [p for p in records if readable_object(p)]
        scanned[name] = len(readable)  # records of objects the caller may not read are unsaid
        for person in readable:
            key = normalise_email(str(client.role_value(person, "email") or ""))
            if key and rights.may(person, "email"):
                held[name].setdefault(key, []).append(person)
    if len(lookup) == len(names):
        raise NotSupported(
            "none of these connectors can list every person, so there is nothing to start "
            "the comparison from.",
            hint="Include HubSpot or Salesforce.",
        )
    everyone = sorted({k for n in names for k in held[n]})
    for name in lookup:
        found = await by_email(clients[name], everyone) if rights.on(name, "email") else {}
        held[name] = {
            k: [p for p in v if readable_object(p) and rights.may(p, "email")]
            for k, v in found.items()
        }
        scanned[name] = sum(len(v) for v in held[name].values())
    views = _Views(ctx, clients, owners)
    items: list[DriftItem] = []
    compared = 0
    for key in everyone:
        where = [n for n in names if held[n].get(key)]
        if len(where) < 2:
            continue
        compared += 1
        values = {n: views.keys(n, held[n][key]) for n in where}
        drifted: list[DriftKind] = [
            k for k in kinds if len({values[n][k] for n in where if values[n][k] is not None}) > 1
        ]
        if not drifted:
            continue
        shown = {n: views.view(n, held[n][key], values[n]) for n in where}
        statuses = {values[n]["consent"] for n in where}
        mailable = "consent" in drifted and "subscribed" in statuses
        items.append(
            DriftItem(
                email=mask_email(key),
                kinds=drifted,
                mailable_somewhere_not_elsewhere=mailable,
                by_connector=shown,
            )
        )
    items.sort(key=lambda i: (not i.mailable_somewhere_not_elsewhere, "consent" not in i.kinds))
    omitted = [o for o in rights.omitted if o.match == "email"]
    return _Drift(items, compared, scanned, complete, omitted)


async def find_cross_system_drift(ctx: ToolContext, args: DriftIn) -> DriftOut:
    tool = "find_cross_system_drift"
    names, skipped = allowed_connectors(ctx, tool, args.connectors)
    if len(names) < 2:
        raise NotPermitted(
            "comparing systems needs at least two connectors you may read; you may use "
            f"{tool} on {', '.join(names) or 'none'} of those asked for.",
            hint="Call my_permissions to see where you may read.",
        )
    kinds: list[DriftKind] = list(args.kinds or ("consent", "lifecycle_stage", "owner"))
    query = {"tool": tool, "connectors": names, "kinds": kinds}
    start = decode_cursor(args.cursor, query).skip
    found = await scanned_once(ctx, _Drift, query, args.cursor, lambda: _drift(ctx, names, kinds))
    items = found.items
    counts = {k: sum(k in i.kinds for i in items) for k in kinds}
    page = items[start : start + args.limit]
    more = start + len(page) < len(items)
    nxt = encode_cursor(PageCursor(None, start + len(page)), query) if more else None
    ctx.notes.connector = "+".join(names)  # the audit row names every connector read
    ctx.notes.summary = (
        f"{len(items)} people drift ("
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + f") of {found.compared} compared"
    )
    return DriftOut(
        items=page,
        next_cursor=nxt,
        total=len(items),
        counts=counts,
        people_compared=found.compared,
        records_scanned=found.scanned,
        connectors_checked=names,
        not_checked=skipped,
        complete=found.complete,
        not_matched_on=found.not_matched_on,
    )
