"""A vendor whose paging never ends (catalogue U-13): a cursor that comes back again, or
pages without end. Membership read for a plan is refused rather than returned in part — a plan
made on part of a list would add people already in it or miss the ones who block a send."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from mopsgate.crm.records import Page
from mopsgate.governance import planning
from mopsgate.governance.errors import UpstreamFailure


@dataclass
class _Caps:
    member_page: int = 2
    campaign_member_page: int = 2


@dataclass
class Looping:
    """Pages of people whose cursors go round: ``period`` pages, then the first cursor again
    (``None``: a fresh cursor every time, never an end)."""

    period: int | None
    calls: int = 0
    capabilities: Any = None

    def __post_init__(self) -> None:
        self.capabilities = _Caps()

    async def list_member_ids(self, list_ref: str, *, cursor: str | None, limit: int) -> Any:
        self.calls += 1
        n = self.calls if self.period is None else self.calls % self.period
        return Page[Any](items=[f"marketo:lead:{self.calls}"], next_cursor=f"c{n}")


@pytest.mark.parametrize("period", [1, 3, 50])
async def test_a_cursor_that_comes_back_is_refused(period: int) -> None:
    client = Looping(period)
    with pytest.raises(UpstreamFailure, match="repeats a cursor"):
        await planning.list_member_refs(client, "marketo:list:1")  # type: ignore[arg-type]
    assert client.calls == period + 1  # stopped at the first repeat


async def test_paging_without_end_is_refused_at_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(planning, "MAX_PAGES", 20)
    client = Looping(None)
    with pytest.raises(UpstreamFailure, match="runs past 20 pages"):
        await planning.list_member_refs(client, "marketo:list:1")  # type: ignore[arg-type]
    assert client.calls == 21
