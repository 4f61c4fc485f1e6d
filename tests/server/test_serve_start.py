"""``mopsgate serve`` as an MCP client starts it: the console script reads the usual options
itself and serves without loading the admin CLI's libraries; what it cannot read, typer explains
as before."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mcp import Client, StdioServerParameters

from mopsgate.server.settings import Settings
from tests.server.test_transports import _env, _serve

# The console script's own entry point, run as `mopsgate` is; at exit it writes down which of
# the admin CLI's libraries (typer, rich, jinja2) the process had imported.
RECORDING_MAIN = """
import atexit, json, sys
CLI_ONLY = {"typer", "rich", "jinja2"}
out, sys.argv = sys.argv[1], ["mopsgate", *sys.argv[2:]]
def record():
    loaded = sorted({m.split(".")[0] for m in sys.modules} & CLI_ONLY)
    with open(out, "w") as f:
        json.dump(loaded, f)
atexit.register(record)
from mopsgate.server.cli import main
main()
"""


async def test_stdio_serve_lists_and_calls_without_the_admin_cli_libraries(
    settings: Settings, tmp_path: Path
):
    record = tmp_path / "modules.json"
    params = StdioServerParameters(
        command=sys.executable,
        args=["-c", RECORDING_MAIN, str(record), "serve", "--principal=analyst"],
        env=_env(settings, MOPSGATE_SANDBOX="memory"),
    )
    async with Client(params) as client:
        listed = await client.list_tools()
        result = await client.call_tool("whoami", {})
    assert "whoami" in {t.name for t in listed.tools}
    assert result.structured_content["principal"] == "analyst"
    # The client waited for the server to exit (its stdin closed), which wrote the record.
    assert json.loads(record.read_text()) == []


def _refusal(settings: Settings, *args: str, **env: str) -> tuple[int, str]:
    """Exit status and stderr as one line (typer draws its messages in a wrapped box)."""
    proc = _serve(settings, *args, **env)
    return proc.returncode, " ".join(proc.stderr.replace("│", " ").split())


def test_an_option_the_fast_reader_leaves_is_explained_by_typer(settings: Settings):
    code, said = _refusal(settings, "--transport", "http", "--port", "eighty")
    assert code == 2
    assert "Invalid value for '--port'" in said and "Input should be a valid integer" in said


def test_a_port_from_the_environment_that_is_not_a_number_is_explained(settings: Settings):
    code, said = _refusal(settings, "--transport", "http", MOPSGATE_PORT="eighty")
    assert code == 2
    assert "(env var: 'MOPSGATE_PORT')" in said and "Input should be a valid integer" in said
