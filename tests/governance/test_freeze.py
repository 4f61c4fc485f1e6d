"""The kill switch is shared state: another connection or process sees it at once."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from mopsgate.governance.change_model import Approval
from mopsgate.governance.change_store import ChangeStore, ChangeStoreSync
from mopsgate.governance.errors import Frozen
from mopsgate.governance.freeze import freeze, frozen_state, unfreeze
from tests.governance.change_factory import NOW, change


def test_freeze_and_unfreeze_round_trip(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    assert frozen_state(db) is None
    state = freeze(db, "incident 42", "alice", now=NOW)
    assert frozen_state(db) == state
    assert state.reason == "incident 42" and state.by == "alice"
    assert unfreeze(db, "bob") == state
    assert frozen_state(db) is None
    assert unfreeze(db, "bob") is None


def test_freeze_is_visible_to_another_open_connection(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    freeze(db, "", "setup")
    unfreeze(db, "setup")
    other = sqlite3.connect(db)
    assert other.execute("SELECT COUNT(*) FROM freeze_state").fetchone()[0] == 0
    freeze(db, "now", "alice")
    assert other.execute("SELECT reason FROM freeze_state").fetchone()[0] == "now"
    other.close()


async def test_running_server_sees_freeze_on_next_apply(tmp_path: Path) -> None:
    db = tmp_path / "m.db"
    server = await ChangeStore.open(db)
    await server.ensure_not_frozen()
    c = await server.insert(change())
    cli = ChangeStoreSync.open(db)
    cli.add_approval(c.id, Approval(reviewer="lead", at=NOW), lambda _a: True, lambda _c: None)
    freeze(db, "stop everything", "alice")
    with pytest.raises(Frozen, match="stop everything") as exc:
        await server.ensure_not_frozen()
    assert exc.value.details["reason_code"] == "frozen"
    with pytest.raises(Frozen):
        await server.claim_for_apply(c.id, "n", now=NOW)
    assert cli.frozen() is not None
    unfreeze(db, "alice")
    await server.ensure_not_frozen()
    assert (await server.claim_for_apply(c.id, "n", now=NOW)).status == "applying"
    cli.close()
    await server.close()
