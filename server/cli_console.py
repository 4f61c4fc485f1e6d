"""``mopsgate console``: serve the review console on its own listener.

The console is for reviewers in a browser; it is not part of the MCP server and shares none of
its listeners or credentials. Its origin (``--origin``, default ``http://localhost:PORT``) is
the passkeys' relying party: passkeys enrolled at one origin work only there, and an IP address
cannot be one, so the browser must use the name (localhost, or the https host name when served
behind a TLS proxy).
"""

from __future__ import annotations

from typing import Annotated

import typer

from mopsgate.governance.errors import ManifestError
from mopsgate.server.cli_async import run
from mopsgate.server.cli_review import existing_state_settings
from mopsgate.server.listen import PortUnavailable, bind_http_socket, is_loopback
from mopsgate.server.manifest_problem import unusable_manifest
from mopsgate.server.settings import (
    DEFAULT_CONSOLE_PORT,
    console_idle_seconds,
    console_url,
)
from mopsgate.storage import StorageConfig, open_storage
from mopsgate.storage.errors import StorageUnavailable

ManifestOpt = Annotated[str | None, typer.Option("--manifest", help="Path to permissions.toml.")]
HomeOpt = Annotated[str | None, typer.Option("--home", help="State directory.")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"mopsgate: {message}", err=True)
    return typer.Exit(2)


def console_cmd(
    host: Annotated[str, typer.Option(help="bind address")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="port")] = DEFAULT_CONSOLE_PORT,
    origin: Annotated[
        str | None,
        typer.Option(
            help="the URL reviewers open (env MOPSGATE_CONSOLE_URL; default http://localhost:PORT)"
        ),
    ] = None,
    allow_remote: Annotated[bool, typer.Option(help="allow a non-loopback bind address")] = False,
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """Serve the review console (passkey login, queue, change pages, decisions)."""
    import uvicorn

    from mopsgate.server.console.app import build_console_app
    from mopsgate.server.console.desk import ConsoleDesk

    # A console on a state directory without a database (the wrong --home, most often) would
    # show an empty queue, and its freeze button would stop no server's applies.
    settings = existing_state_settings(manifest, home, "; the console was not started", 2)
    if not is_loopback(host) and not allow_remote:
        raise _fail(
            f"refusing to bind {host}: not a loopback address. Serve the console behind a TLS "
            "proxy and pass --allow-remote --origin https://<its name>."
        )
    from mopsgate.server.console.web import ConsoleConfig

    config = ConsoleConfig(
        origin=origin or console_url(port=port), idle_seconds=console_idle_seconds()
    )
    try:
        run(_storage_ready(settings.storage()))
    except StorageUnavailable as exc:
        raise _fail(f"refusing to start: {exc.message} {exc.hint}") from exc
    try:
        desk = ConsoleDesk.build(settings)
    except ManifestError as exc:
        raise _fail(f"refusing to start: {unusable_manifest(settings.manifest_path, exc)}") from exc
    try:
        sock = bind_http_socket(host, port)
    except PortUnavailable as exc:
        raise _fail(str(exc).replace("MOPSGATE_PORT=", "--port ")) from exc
    typer.echo(
        f"mopsgate review console at {config.origin} (listening on {host}:{port}); reviewers "
        "log in with their passkey. Stop with Ctrl-C.",
        err=True,
    )
    app = build_console_app(desk, config, bound=(host, port))
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])


async def _storage_ready(cfg: StorageConfig) -> None:
    """Open and close the storage once: a schema that is not current, or a locked or read-only
    database, stops start-up with one line instead of failing every page."""
    storage = await open_storage(cfg)
    await storage.close()
