"""Changes as stored, read the way the reviewer CLI reads them (through storage), from sync or
async tests alike."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from mopsgate.governance.change_model import Change
from mopsgate.server.cli_async import run
from mopsgate.server.settings import Settings
from mopsgate.storage import Storage, StorageConfig, open_storage

T = TypeVar("T")


def with_storage(where: Settings | StorageConfig, work: Callable[[Storage], Awaitable[T]]) -> T:
    """Run ``work`` on a storage of its own, as another process (the CLI) would."""
    cfg = where.storage() if isinstance(where, Settings) else where

    async def session() -> T:
        storage = await open_storage(cfg)
        try:
            return await work(storage)
        finally:
            await storage.close()

    return run(session())


def stored_change(settings: Settings, change_id: str) -> Change:
    return with_storage(settings, lambda s: s.changes.require(change_id))


def stored_changes(settings: Settings) -> list[Change]:
    return with_storage(settings, lambda s: s.changes.list_changes())
