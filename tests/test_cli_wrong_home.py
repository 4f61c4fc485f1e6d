"""A reviewer's or operator's command about the server's state run against a state directory
that holds no database (the wrong directory, most likely): it says where it looked and how to
point elsewhere, exits 1 and creates nothing there, rather than making an empty database and
answering "nothing waits" — or freezing a database no server reads."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mopsgate.server.cli_app import app

MANIFEST = Path(__file__).resolve().parents[1] / "permissions.toml"


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["review", "list"], id="review-list"),
        pytest.param(["review", "show", "chg_0123456789ab"], id="review-show"),
        pytest.param(["notify", "list"], id="notify-list"),
        pytest.param(["exception", "list"], id="exception-list"),
        pytest.param(["freeze", "--reason", "incident 7"], id="freeze"),
        pytest.param(["unfreeze"], id="unfreeze"),
    ],
)
def test_a_command_on_state_never_kept_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str]
) -> None:
    monkeypatch.delenv("MOPSGATE_DATABASE_URL", raising=False)
    home = tmp_path / "not-the-state-directory"
    result = CliRunner().invoke(app, [*args, "--manifest", str(MANIFEST), "--home", str(home)])
    assert result.exit_code == 1, result.output
    said = " ".join(result.output.split())
    assert f"no mopsgate state at {home / 'mopsgate.db'}" in said, said
    assert "--home" in said and "MOPSGATE_HOME" in said
    assert "No changes" not in said and "Nothing waits" not in said and "No exceptions" not in said
    assert "Applies are frozen" not in said and "Applies resumed" not in said
    done = {"freeze": "nothing was frozen", "unfreeze": "nothing was unfrozen"}
    assert done.get(args[0], "") in said
    assert not home.exists()  # nothing left behind in the wrong place
