"""`mopsgate freeze` while applies are already frozen: the incident's reason and the time the
freeze began are kept (a second operator hitting the kill switch without --reason used to wipe
them), the command says it was frozen already, and both acts are audited."""

from __future__ import annotations

from typer.testing import CliRunner, Result

from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.support.changes import with_storage
from tests.test_cli_signed_decisions import proposed


def run(settings: Settings, *args: str) -> Result:
    where = ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    result = CliRunner().invoke(app, [*args, *where])
    assert result.exit_code == 0, result.output
    return result


def test_freezing_again_keeps_the_reason_and_says_so(settings: Settings) -> None:
    proposed(settings)  # a state directory a server would use
    run(settings, "freeze", "--reason", "incident 42", "--by", "alice")
    first = with_storage(settings, lambda s: s.freeze.state())
    again = run(settings, "freeze", "--by", "bob").stdout
    assert "Applies were already frozen" in again and "by alice: incident 42" in again
    state = with_storage(settings, lambda s: s.freeze.state())
    assert first is not None and state is not None
    assert (state.reason, state.at) == ("incident 42", first.at)
    assert state.by == "alice"  # who began it, beside when: never bob with alice's start time
    rows = [(r["principal"], r["reason"], r["result_summary"]) for r in audit_rows(settings)
            if r["tool"] == "freeze"]  # fmt: skip
    assert rows == [
        ("alice", "incident 42", "applies frozen"),
        ("bob", "incident 42", "applies were already frozen"),
    ]


def test_a_new_reason_replaces_the_old_one(settings: Settings) -> None:
    proposed(settings)
    run(settings, "freeze", "--reason", "incident 42")
    out = run(settings, "freeze", "--reason", "incident 43").stdout
    assert "now for: incident 43" in out
    state = with_storage(settings, lambda s: s.freeze.state())
    assert state is not None and state.reason == "incident 43"
