"""``mopsgate serve`` as a typer command: its ``--help``, and its place among the admin commands.

A client (Claude Desktop, an IDE) starts a fresh ``mopsgate serve`` for every session and waits
for its first ``tools/list``, so the console script (``server/cli.py``) reads the usual options
without typer (``serve_argv.py``) and comes here only for ``--help`` and for options it cannot
read, which this command explains as every other command does. Either way the work is
``serve_run.start``. ``server/cli_app.py`` registers the same command beside the others.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mopsgate.server.cli_errors import add_database_url
from mopsgate.server.serve_run import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_TRANSPORT,
    StartRefused,
    start,
)

ManifestOpt = Annotated[
    str | None,
    typer.Option(
        "--manifest",
        help="Path to permissions.toml (env MOPSGATE_MANIFEST, default ./permissions.toml).",
    ),
]
HomeOpt = Annotated[
    str | None,
    typer.Option("--home", help="State directory (env MOPSGATE_HOME, default ./.mopsgate)."),
]


def serve(
    transport: Annotated[str, typer.Option(help="stdio or http")] = DEFAULT_TRANSPORT,
    host: Annotated[
        str, typer.Option(help="HTTP bind address", envvar="MOPSGATE_HOST")
    ] = DEFAULT_HOST,
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="HTTP port", envvar="MOPSGATE_PORT")
    ] = DEFAULT_PORT,
    principal: Annotated[
        str | None, typer.Option(help="stdio principal (env MOPSGATE_PRINCIPAL)")
    ] = None,
    allow_remote: Annotated[
        bool, typer.Option(help="allow binding a non-loopback address")
    ] = False,
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """Run the MCP server over stdio (one principal) or streamable HTTP (bearer tokens)."""
    try:
        start(
            transport=transport,
            host=host,
            port=port,
            principal=principal,
            allow_remote=allow_remote,
            manifest=manifest,
            home=home,
        )
    except StartRefused as exc:
        typer.echo(exc.message, err=True)
        raise typer.Exit(exc.code) from exc


serve_app = typer.Typer(name="mopsgate", add_completion=False)
serve_app.command()(serve)
add_database_url([serve_app])


@serve_app.callback()
def _serve_only() -> None:
    """Governed MCP server for Marketing Operations (``mopsgate --help`` lists every command)."""
