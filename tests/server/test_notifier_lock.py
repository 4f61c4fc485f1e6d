"""The notification sender beside a long write: SQLite has one writer, and a 10,000-record
apply holds it for a while. An idle sender only reads, so it neither waits for the lock nor
takes it; a sender with work due while the lock is held says so in one log line (no
traceback, however many passes fail) and sends once the lock is gone."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import JsonValue

from mopsgate.connectors.webhook import WebhookSender
from mopsgate.governance.manifest_load import load_manifest
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.notify_events import FROZEN
from mopsgate.governance.outbox import OutboxMessage
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.notifier import Notifier
from mopsgate.storage import Storage, StorageConfig, open_storage
from tests.server.notify_support import ENV, Receiver, add_targets


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[Storage]:
    # A short busy timeout: a write that meets the lock fails at once instead of in 5 s.
    opened = await open_storage(StorageConfig.sqlite(tmp_path / "m.db", busy_timeout_ms=50))
    try:
        yield opened
    finally:
        await opened.close()


def held_write_lock(path: Path) -> sqlite3.Connection:
    """Another process in the middle of a long write transaction (an apply)."""
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    return other


async def test_the_sender_waits_out_a_held_write_lock_quietly(
    storage: Storage, tmp_path: Path, manifest_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    add_targets(manifest_path)
    manifest = load_manifest(manifest_path, build_catalogue())

    async def current() -> Manifest:
        return manifest

    receiver = Receiver()
    notifier = Notifier(
        outbox=storage.outbox,
        changes=storage.changes,
        manifest=current,
        env=ENV,
        console_url="http://localhost:8766",
        sender=WebhookSender(transport=receiver.transport()),
    )
    caplog.set_level(logging.INFO, logger="mopsgate.notify")
    apply = held_write_lock(tmp_path / "m.db")
    assert await notifier.pass_quietly() == 0  # idle: nothing due, found by a read
    assert caplog.records == []
    apply.rollback()

    at = datetime.now(UTC)
    notice: dict[str, JsonValue] = {"principal": "oncall", "at": at.isoformat(), "audit_seq": 7}
    await storage.outbox.enqueue([OutboxMessage(FROZEN, "freeze:7", notice)], now=datetime.now(UTC))
    apply = held_write_lock(tmp_path / "m.db")
    for _ in range(5):
        assert await notifier.pass_quietly() == 0
    (said,) = caplog.records
    assert said.levelno == logging.WARNING and said.exc_info is None
    assert "is locked" in said.getMessage() and "retrying quietly" in said.getMessage()
    apply.rollback()
    apply.close()
    assert await notifier.pass_quietly() == 1  # the notice fans out to both targets
    assert await notifier.pass_quietly() == 2
    assert sorted(receiver.events("relay") + receiver.events("slack")) == ["applies.frozen"] * 2
    assert "usable again" in caplog.records[1].getMessage()
    await notifier.sender.aclose()
