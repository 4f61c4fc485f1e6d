"""Input pieces and checks shared by the tool catalogue."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Literal, TypeVar

from pydantic import BeforeValidator, Field

from mopsgate.crm.capabilities import Capabilities
from mopsgate.crm.connector import Connector
from mopsgate.crm.errors import NotSupportedByVendor
from mopsgate.crm.refs import REF_PATTERN, RecordRef, connector_of, parse_ref
from mopsgate.governance.catalogue import Catalogue
from mopsgate.governance.errors import InvalidInput, NotPermitted, NotSupported
from mopsgate.governance.policy import FieldAccess, field_access, permitted_objects
from mopsgate.tools.paging import Query
from mopsgate.tools.spec import ToolContext

T = TypeVar("T")


def _moment(value: object) -> object:
    """ISO 8601 text as the moment it names (a bare date means its midnight). Arguments are
    validated strictly, so nothing is coerced: a number or a boolean stays an error; text
    JSON has no other way to carry a time in is read here, once."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip())
        except ValueError:
            return value
    return value


Moment = Annotated[datetime, BeforeValidator(_moment)]

ConnectorName = Literal["marketo", "hubspot", "salesforce"]

Ref = Annotated[
    str,
    Field(
        pattern=REF_PATTERN,
        description=(
            "record reference '<connector>:<object>:<id>', e.g. 'hubspot:contact:1051', "
            "'salesforce:Lead:00Q5e0000000042', 'marketo:lead:100042'"
        ),
    ),
]
Limit = Annotated[int, Field(ge=1, le=100, description="page size (hard cap 100)")]
Cursor = Annotated[
    str | None,
    Field(
        max_length=2000, description=("opaque cursor from a previous page; omit for the first page")
    ),
]


def connector(ctx: ToolContext, name: str) -> Connector:
    return ctx.connectors.get(name)


def person_object(cat: Catalogue, connector_name: str, obj: str | None) -> str:
    """The person object to use; an unknown one is an error listing what exists."""
    objects = cat.person_objects[connector_name]
    if obj is None:
        return next(iter(objects))
    if obj not in objects:
        raise InvalidInput(
            f"{connector_name} has no person object {obj!r}.",
            hint=f"Use one of: {', '.join(objects)}.",
        )
    return obj


def person_objects(cat: Catalogue, connector_name: str, obj: str | None) -> tuple[str, ...]:
    """The named person object, or every person object of the connector when none is named."""
    if obj is None:
        return cat.person_objects[connector_name]
    return (person_object(cat, connector_name, obj),)


def known_object(cat: Catalogue, connector_name: str, obj: str) -> None:
    names = list(cat.objects[connector_name])
    if obj not in names:
        raise InvalidInput(
            f"{connector_name} has no object {obj!r}.", hint=f"Objects: {', '.join(names)}."
        )


def split_ref(cat: Catalogue, ref: str, *, kinds: tuple[str, ...] | None = None) -> RecordRef:
    try:
        parsed = parse_ref(ref)
    except ValueError as exc:
        raise InvalidInput(str(exc), hint="Use a reference returned by a read tool.") from exc
    known_object(cat, parsed.connector, parsed.object)
    if kinds is not None and parsed.object not in kinds:
        raise InvalidInput(
            f"{ref!r} is a {parsed.object}, not one of: {', '.join(kinds)}.",
            hint="Pass a reference of the right kind.",
        )
    return parsed


def _capabilities(cat: Catalogue, ref: str) -> Capabilities | None:
    return cat.capabilities.get(connector_of(ref) or "")


def list_ref(cat: Catalogue, ref: str) -> str:
    """The connector of a list reference; anything else is an error naming the list objects.
    (A vendor's list objects may be campaigns too: Salesforce lists are Campaigns.)"""
    caps = _capabilities(cat, ref)
    return split_ref(cat, ref, kinds=caps.list_objects if caps else ()).connector


def campaign_ref(cat: Catalogue, ref: str) -> str:
    caps = _capabilities(cat, ref)
    return split_ref(cat, ref, kinds=caps.campaign_objects if caps else ()).connector


def person_ref(cat: Catalogue, ref: str) -> tuple[str, str]:
    conn, obj, _ = split_ref(cat, ref)
    persons = cat.person_objects[conn]
    if obj not in persons:
        raise InvalidInput(
            f"{ref!r} is not a person.", hint=f"Person objects on {conn}: {', '.join(persons)}."
        )
    return conn, obj


def same_connector(*refs: str | None) -> str:
    """The one connector all given references (or connector names) belong to."""
    names = {connector_of(r) or r for r in refs if r}
    if len(names) != 1:
        raise InvalidInput(
            f"all references must belong to one connector, got {', '.join(sorted(names))}.",
            hint="Split the request per connector.",
        )
    return names.pop()


def readable_objects(
    ctx: ToolContext, connector_name: str, objects: tuple[str, ...], tool: str
) -> tuple[str, ...]:
    """The objects among ``objects`` this principal may use ``tool`` on (at least one): the
    policy's filter on an admitted call, refusing with the rule when none is left."""
    allowed, refusal = permitted_objects(
        ctx.manifest, ctx.principal, tool, connector_name, objects, use_case=ctx.use_case
    )
    if refusal is not None:
        raise NotPermitted(
            refusal.reason,
            rule_id=refusal.rule_id,
            hint="Call my_permissions to see what you may read.",
        )
    return allowed or objects


def not_supported(tool: str, exc: NotSupportedByVendor, hint: str) -> NotSupported:
    """A vendor refusal restated in terms of the tool the assistant called."""
    _, _, why = exc.message.partition(": ")
    text = f"{tool} is not supported by {exc.vendor}" + (f": {why}" if why else "")
    return NotSupported(text.rstrip(".") + ".", hint=hint)


def read_access(ctx: ToolContext, connector_name: str, obj: str, tool: str) -> FieldAccess:
    """Field access as the rules covering this read tool grant it.

    Scoped to the tool on purpose: a write rule's defaults (every field readable, PII masked)
    must neither widen what a read rule lets the principal see nor mask what it unmasks."""
    return field_access(ctx.manifest, ctx.principal, connector_name, obj, tool)


async def scanned_once(
    ctx: ToolContext,
    kind: type[T],
    query: Query,
    cursor: str | None,
    scan: Callable[[], Awaitable[T]],
) -> T:
    """What a whole-database read found: read afresh for a first page, kept for the later
    pages of the same query under the same rights (``tools/snapshots.py`` says how long)."""
    if ctx.snapshots is None:
        return await scan()
    return await ctx.snapshots.result(
        kind,
        principal=ctx.principal,
        use_case=ctx.use_case,
        query=query,
        rights=ctx.manifest,
        first_page=cursor is None,
        compute=scan,
    )
