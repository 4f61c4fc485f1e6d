"""What a user needs to connect a client, in one place: the banner ``mopsgate serve --transport
http`` prints and the stdio config in the README come from the same function, and a test holds
the README to it, so the two cannot drift apart again (the README's copy once lacked --home,
and a client configured from it silently used another state directory)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from mopsgate.server.settings import Settings

# What the README shows in place of this machine's paths.
README_CHECKOUT = "/path/to/mopsgate"


def stdio_config(command: str, manifest: str, home: str, principal: str = "assistant") -> Any:
    """The ``mcpServers`` entry for a stdio client (Claude Desktop / Code, Cursor)."""
    args = ["serve", "--transport", "stdio", "--principal", principal]
    args += ["--manifest", manifest, "--home", home]
    return {"mcpServers": {"mopsgate": {"command": command, "args": args}}}


def readme_stdio_config() -> Any:
    root = README_CHECKOUT
    return stdio_config(
        f"{root}/.venv/bin/mopsgate", f"{root}/permissions.toml", f"{root}/.mopsgate"
    )


# The sandbox first run of a reviewer: one command, shown by the README and by `make run`.
ENROL = ".venv/bin/mopsgate reviewer enrol --reviewer mops-lead"


def reviewing_lines(sandbox_only: bool) -> list[str]:
    """How a human reviews what the assistant proposes. On a sandbox-only manifest, one
    command enrols the newcomer; with a production connector, enrolment is the manifest
    owner's reviewed edit and `reviewer enrol` refuses, so the banner points to the README."""
    if not sandbox_only:
        return [
            "  Reviewers decide in the review console (.venv/bin/mopsgate console) or with",
            "  .venv/bin/mopsgate review; their keys are declared in the manifest (see README).",
        ]
    return [
        "  Review what the assistant proposes, as a human (sandbox): enrol once with",
        f"    {ENROL}",
        "  then approve in the review console (.venv/bin/mopsgate console) or with",
        "    .venv/bin/mopsgate review approve ID --reviewer mops-lead",
    ]


def serving_banner(settings: Settings, host: str, port: int, *, sandbox_only: bool) -> str:
    manifest = os.path.abspath(settings.manifest_path)
    home = os.path.abspath(settings.home)
    config = stdio_config(str(Path(sys.executable).parent / "mopsgate"), manifest, home)
    lines = [
        f"mopsgate is serving MCP over streamable HTTP at http://{host}:{port}/mcp",
        f"  manifest: {manifest}   state: {home}",
        "  every request needs a bearer token; create one with:",
        "    .venv/bin/mopsgate token create --principal assistant",
        "  and send it as 'Authorization: Bearer <token>'.",
        *reviewing_lines(sandbox_only),
        "  For a stdio client (Claude Desktop / Code, Cursor), use this config:",
        *("    " + line for line in json.dumps(config, indent=2).splitlines()),
        "  Stop with Ctrl-C.",
    ]
    return "\n".join(lines)
