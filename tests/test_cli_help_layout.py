"""`mopsgate <group> --help` lists each command with the first paragraph of its help, as flowing
text: the line breaks of the docstring it comes from are not the listing's (on a terminal wide
enough, every command's line is one line)."""

from __future__ import annotations

from typer.testing import CliRunner

from mopsgate.server.cli_app import app


def _groups() -> list[list[str]]:
    return [[], *([g.name] for g in app.registered_groups if g.name)]


def test_every_command_listing_flows_as_one_line_on_a_wide_terminal() -> None:
    broken: list[str] = []
    for group in _groups():
        result = CliRunner().invoke(app, [*group, "--help"], env={"COLUMNS": "400"})
        assert result.exit_code == 0, result.output
        panel = result.output.split("Commands ", 1)[1]
        for line in panel.splitlines()[1:]:
            if line.startswith("╰"):
                break
            if line[2:3] == " " and line.strip("│ "):  # no command name: a continuation
                broken.append(f"mopsgate {' '.join(group)}: {line.strip('│ ')}")
    assert broken == []
