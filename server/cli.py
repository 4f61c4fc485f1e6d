"""The ``mopsgate`` console script: ``serve`` without the admin commands, anything else with.

An MCP client launches ``mopsgate serve`` for every session and waits for its first
``tools/list``; importing the review, audit, report and reviewer-key commands (and what they
import), or typer itself, would add to every such start for nothing. So ``serve`` reads its
options with the standard library (``serve_argv``) and runs ``serve_run.start``; only ``--help``
and options it leaves to typer load ``cli_serve``'s one-command app. Everything else,
``--help`` included, is the full app in ``cli_app``. ``from mopsgate.server.cli import app``
still gives the full app.
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer


def main() -> None:
    if sys.argv[1:2] == ["serve"]:
        # Start-up builds some hundred thousand long-lived objects (the SDK's and the manifest's
        # models, mostly) and almost no garbage, yet the collector would scan them over and
        # over as they are made: it is paused until serving begins (serve_run._serving).
        gc.disable()
        try:
            from mopsgate.server import serve_argv

            options = serve_argv.read(sys.argv[2:])
            if options is not None:
                serve_argv.serve(options)
            from mopsgate.server.cli_serve import serve_app

            serve_app()
        finally:  # a refused start, in a process that lives on (a test calling main)
            gc.enable()
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
