"""Manifest history on every backend (#10): which version was in force when, who loaded it,
what a refused edit said, and each text kept once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mopsgate.governance.manifest_history import ManifestLoad
from mopsgate.storage import Storage
from tests.storage.backends import Backend

T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


async def test_versions_in_order_with_who_and_why(storage: Storage, backend: Backend) -> None:
    v1 = ManifestLoad("a" * 64, T0, "in_force", loaded_by="alice", git_commit="abc123")
    bad = ManifestLoad(
        "b" * 64, T0 + timedelta(hours=1), "refused", loaded_by="bob", reason="line 3: oops"
    )
    v1_again = ManifestLoad("a" * 64, T0 + timedelta(hours=2), "in_force", loaded_by="carol")
    for load, text in ((v1, "version = 1\n"), (bad, "version = \n"), (v1_again, "version = 1\n")):
        await storage.manifests.record(load, text)
    assert await storage.manifests.versions() == [v1, bad, v1_again]
    assert await storage.manifests.versions(since=T0 + timedelta(minutes=1)) == [bad, v1_again]
    assert await storage.manifests.text("a" * 64) == "version = 1\n"
    assert await storage.manifests.text("b" * 64) == "version = \n"
    assert await storage.manifests.text("c" * 64) is None
    assert backend.query("SELECT COUNT(*) FROM manifest_texts") == [(2,)]
