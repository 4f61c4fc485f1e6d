"""Per-vendor facts the end-to-end tests need, computed from the seed independently of any
emulator or client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from typer.testing import CliRunner

from mopsgate.sandbox.hubspot import ids as hs
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.salesforce import ids as sf
from mopsgate.sandbox.seed import seed_data
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings


@dataclass(frozen=True)
class Vendor:
    name: str
    ref: Callable[[int], str]
    native: Callable[[int], Any]
    title_field: str
    list_idx: int
    list_ref: str
    list_native: Any

    def native_of(self, ref: str) -> Any:
        raw = ref.split(":", 2)[2]
        return int(raw) if self.name == "marketo" else raw


VENDORS = {
    "marketo": Vendor(
        "marketo", mk.lead_ref, mk.lead_id, "title", 3, mk.list_ref(3), mk.list_id(3)
    ),
    "hubspot": Vendor(
        "hubspot", hs.person_ref, hs.person_id, "jobtitle", 3, hs.list_ref(3), hs.list_id(3)
    ),
    "salesforce": Vendor(
        "salesforce", sf.person_ref, sf.person_id, "Title", 3, sf.list_ref(3), sf.list_id(3)
    ),
}


def subscribed_outside_list(list_idx: int, n: int, start: int = 0) -> list[int]:
    """Seed people who may be emailed and are not in the list: safe targets for adds."""
    data = seed_data()
    members = set(data.lists[list_idx].members)
    found = [
        p.idx
        for p in data.people[start:]
        if p.consent_status == "subscribed" and p.idx not in members and p.duplicate_of is None
    ]
    return found[:n]


def review(settings: Settings, *args: str) -> Any:
    result = CliRunner().invoke(
        app,
        ["review", *args, "--manifest", str(settings.manifest_path), "--home", str(settings.home)],
    )
    return result


def approve(settings: Settings, change_id: str, reviewer: str = "mops-lead") -> None:
    result = review(settings, "approve", change_id, "--reviewer", reviewer)
    assert result.exit_code == 0, result.output
