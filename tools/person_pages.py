"""A page of people as every person-listing tool returns it, each person shaped with the field
access of their own object (Salesforce mixes Leads and Contacts in one page)."""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel, Field

from mopsgate.crm.records import Person
from mopsgate.governance.policy import FieldAccess
from mopsgate.tools.common import read_access
from mopsgate.tools.shaping import InjectionScan, PersonOut, shape_person
from mopsgate.tools.spec import ToolContext


class PeoplePage(BaseModel):
    items: list[PersonOut]
    next_cursor: str | None = Field(description="pass back to get the next page; null at end")
    truncated_by_size: bool = False


def access_by_object(
    ctx: ToolContext, conn: str, tool: str, scan: InjectionScan | None = None
) -> Callable[[Person], PersonOut]:
    """Shape people with the field access of their own object (Salesforce mixes Leads and
    Contacts in one page)."""
    cache: dict[str, FieldAccess] = {}

    def shape(person: Person) -> PersonOut:
        if person.object not in cache:
            cache[person.object] = read_access(ctx, conn, person.object, tool)
        if scan is not None:
            scan.see(person)
        return shape_person(person, cache[person.object])

    return shape
