"""A confirmation token never leaks through an error path (catalogue T-19): with a genuine
token in hand, drive the refusals an apply can meet — another principal, applies frozen, the
plan gone stale, an upstream failure, a replay — then look for the token everywhere it could
land: every answer, stderr, the database and its WAL. Only its hash is ever stored."""

from __future__ import annotations

import pytest

from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import text_of
from tests.server.e2e_support import approve
from tests.server.test_changes_kit import MK, apply, cli, people, propose_titles
from tests.support.no_wait import no_wait_runtime


@pytest.fixture
def runtime(settings: Settings) -> Runtime:
    """The upstream failure outlasts every retry: retried without the backoff's wait."""
    return no_wait_runtime(settings)


async def test_a_confirmation_token_is_never_written_anywhere(
    connect, runtime: Runtime, settings: Settings, capfd
):
    emu = runtime.connectors.emulator("marketo")
    answers: list[str] = []
    tokens: list[str] = []
    async with connect("assistant") as client, connect("analyst") as other:
        for n, path in enumerate(("principal", "frozen", "stale", "upstream", "replay")):
            idxs = people("subscribed", 1, start=200 + 10 * n)
            plan = await propose_titles(client, MK, idxs, f"Leak Check {n}")
            tokens.append(plan["confirmation_token"])
            approve(settings, plan["change_id"])
            if path == "principal":
                answers.append(text_of(await apply(other, plan)))
            elif path == "frozen":
                assert (
                    cli(settings, "freeze", "--reason", "leak check", "--by", "oncall").exit_code
                    == 0
                )
                answers.append(text_of(await apply(client, plan)))
                assert cli(settings, "unfreeze", "--by", "oncall").exit_code == 0
            elif path == "stale":
                emu.set_person_field(MK.native(idxs[0]), "title", "Moved Meanwhile")
                answers.append(text_of(await apply(client, plan)))
            elif path == "upstream":
                emu.core.faults.fail_after_writes = 0
                answers.append(text_of(await apply(client, plan)))
                emu.core.faults.fail_after_writes = None
            else:
                answers.append(text_of(await apply(client, plan)))
                answers.append(text_of(await apply(client, plan)))
    assert len([a for a in answers if a.startswith("[")]) >= 5, answers
    out, err = capfd.readouterr()
    stored = b"".join(p.read_bytes() for p in settings.home.glob("mopsgate.db*"))
    for token in tokens:
        nonce_and_mac = token.split(".", 1)[1]
        assert not [a for a in answers if token in a or nonce_and_mac in a]
        assert token not in out + err and nonce_and_mac not in out + err
        assert token.encode() not in stored and nonce_and_mac.encode() not in stored
