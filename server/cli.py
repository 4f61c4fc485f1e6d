"""The ``mopsgate`` console script: ``serve`` without the admin commands, anything else with.

An MCP client launches ``mopsgate serve`` for every session and waits for its first
``tools/list``; importing the review, audit, report and reviewer-key commands (and what they
import) would add to every such start for nothing. So ``serve`` runs ``cli_serve``'s
one-command app and everything else, ``--help`` included, the full app in ``cli_app``.
``from mopsgate.server.cli import app`` still gives the full app.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        from mopsgate.server.cli_serve import serve_app

        serve_app()
    else:
        from mopsgate.server.cli_app import app

        app()


def __getattr__(name: str) -> typer.Typer:
    if name == "app":
        from mopsgate.server.cli_app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    main()
