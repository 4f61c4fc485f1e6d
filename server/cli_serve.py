"""``mopsgate serve``: the command MCP clients launch, kept apart from the admin commands.

A client (Claude Desktop, an IDE) starts a fresh ``mopsgate serve`` for every session and waits
for its first ``tools/list``; the admin commands' modules (review, audit, report, reviewer keys)
would add their import time to every such start for nothing. So the console script
(``server/cli.py``) runs this module's one-command app for ``serve``, and ``server/cli_app.py``
registers the same command beside the others for everything else, ``--help`` included.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from mopsgate.crm.errors import ConfigError
from mopsgate.governance.errors import ManifestError
from mopsgate.server.cli_async import run
from mopsgate.server.cli_db import describe
from mopsgate.server.cli_errors import add_database_url
from mopsgate.server.connect_help import serving_banner
from mopsgate.server.listen import PortUnavailable, bind_http_socket, is_loopback
from mopsgate.server.settings import (
    Settings,
    SettingsError,
    ensure_home,
    load_http_session_settings,
    load_settings,
    signing_secret,
)
from mopsgate.storage import check_writable, explain_failure, schema_status

if TYPE_CHECKING:
    from mopsgate.server.surface import GovernedServer

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


def _log_to_stderr() -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("MOPSGATE_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    # One INFO line per vendor request would drown the log (and, in-process, slow every call).
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"mopsgate: {message}", err=True)
    return typer.Exit(code)


def _runtime(settings: Settings, transport: str):  # type: ignore[no-untyped-def]
    from mopsgate.server.app import build_runtime

    try:
        runtime = build_runtime(settings)
        runtime.connectors.check_production()
        _check_live_fields(runtime)
        signing_secret(settings)
    except ManifestError as exc:
        problems = [str(p) for p in exc.problems] or [exc.message]
        for line in problems:
            typer.echo(line, err=True)
        _audit_refused_start(settings, transport, "manifest_invalid", "; ".join(problems))
        raise _fail(
            f"refusing to start: {settings.manifest_path} is not a valid manifest "
            "(run 'mopsgate manifest check' for details)"
        ) from exc
    except (ConfigError, SettingsError) as exc:
        _audit_refused_start(settings, transport, "config_invalid", str(exc))
        raise _fail(f"refusing to start: {exc}") from exc
    return runtime


def _check_live_fields(runtime) -> None:  # type: ignore[no-untyped-def]
    """Describe every production connector's person objects and refuse to start if the
    manifest names a field the org lacks (catalogue M-21); a vendor that cannot be described
    stops the start too (fail closed). The clients are closed after, so the server opens its
    own on its own event loop."""
    from mopsgate.crm.errors import VendorError
    from mopsgate.governance.errors import Problem

    async def check() -> list[str]:
        try:
            found: list[str] = await runtime.connectors.missing_production_fields(
                runtime.holder.manifest
            )
            return found
        finally:
            await runtime.connectors.aclose()

    path = str(runtime.settings.manifest_path)
    try:
        problems = run(check())
    except VendorError as exc:
        raise ManifestError(
            f"{path}: cannot check the manifest's fields against {exc.vendor}",
            problems=[Problem(path, 1, 1, f"cannot describe {exc.vendor}'s fields: {exc}")],
        ) from exc
    if problems:
        raise ManifestError(
            f"{path}: names fields the org does not have",
            problems=[Problem(path, 1, 1, p) for p in problems],
        )


def _audit_refused_start(settings: Settings, transport: str, code: str, reason: str) -> None:
    """A start-up refused for the manifest or the configuration leaves a ``startup`` row
    (catalogue M-01, M-02): the audit log is writable by now (``_require_current_schema``), and
    who tried to start with what is part of the record. Refusals before that point (the state
    directory or the database itself unusable) have nowhere to be written: stderr says them."""
    from mopsgate.governance.audit_chain import AuditEvent
    from mopsgate.storage import open_storage

    async def write() -> None:
        storage = await open_storage(settings.storage())
        try:
            await storage.audit.append(
                AuditEvent(
                    kind="startup",
                    principal="(system)",
                    transport="http" if transport == "http" else "stdio",
                    tool="serve",
                    decision="n/a",
                    outcome="refused",
                    error_code=code,
                    reason=reason[:2000],
                )
            )
        finally:
            await storage.close()

    try:
        run(write())
    except Exception:  # the refusal itself must still be said, whatever the log does
        logging.getLogger("mopsgate.serve").warning(
            "could not audit the refused start-up", exc_info=True
        )


def _require_current_schema(settings: Settings) -> None:
    """Refuse before serving anything: a schema mismatch, a locked or a read-only database
    found at the first connection would fail every call instead (or the start-up, with a
    traceback), with the fix buried in the log."""
    cfg = settings.storage()
    try:
        run(check_writable(cfg))
        status = run(schema_status(cfg))
    except Exception as exc:
        problem = explain_failure(cfg, exc)
        if problem is None:
            raise
        raise _fail(f"refusing to start: {problem.message} {problem.hint}") from exc
    if status.current is not None and not status.up_to_date:
        for line in describe(status):
            typer.echo(line, err=True)
        raise _fail("refusing to start: the database schema does not match this mopsgate")


def serve(
    transport: Annotated[str, typer.Option(help="stdio or http")] = "stdio",
    host: Annotated[
        str, typer.Option(help="HTTP bind address", envvar="MOPSGATE_HOST")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="HTTP port", envvar="MOPSGATE_PORT")] = 8765,
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
    _log_to_stderr()
    settings = load_settings(manifest, home)
    try:
        ensure_home(settings)
    except PermissionError as exc:
        raise _fail(f"refusing to start: cannot set up the state directory ({exc})") from exc
    _require_current_schema(settings)
    runtime = _runtime(settings, transport)
    if transport == "stdio":
        _serve_stdio(runtime, principal or os.environ.get("MOPSGATE_PRINCIPAL"))
    elif transport == "http":
        _serve_http(runtime, host, port, allow_remote)
    else:
        raise _fail(f"unknown transport {transport!r}; use stdio or http")


def _serve_stdio(runtime, principal: str | None) -> None:  # type: ignore[no-untyped-def]
    from mopsgate.server.app import build_server

    if not principal:
        raise _fail("stdio needs a principal: pass --principal NAME or set MOPSGATE_PRINCIPAL")
    if principal not in runtime.holder.manifest.principals:
        raise _fail(
            f"unknown principal {principal!r}: it is not in "
            f"{runtime.settings.manifest_path}; every call would be refused"
        )
    import anyio

    server = build_server(runtime, transport="stdio", resolve_principal=lambda _ctx: principal)
    anyio.run(_run_stdio, server)


async def _run_stdio(server: GovernedServer) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def _serve_http(runtime, host: str, port: int, allow_remote: bool) -> None:  # type: ignore[no-untyped-def]
    import uvicorn

    from mopsgate.server.http import build_http_app

    if not is_loopback(host) and not allow_remote:
        raise _fail(
            f"refusing to bind {host}: not a loopback address. Pass --allow-remote "
            "if you really mean to expose mopsgate on the network."
        )
    try:
        sessions = load_http_session_settings()
        sock = bind_http_socket(host, port)
    except (PortUnavailable, SettingsError) as exc:
        raise _fail(str(exc)) from exc
    starlette_app = build_http_app(runtime, host, port, sessions)
    environments = {str(c.environment) for c in runtime.holder.manifest.connectors.values()}
    banner = serving_banner(runtime.settings, host, port, sandbox_only=environments <= {"sandbox"})
    typer.echo(banner, err=True)
    server = uvicorn.Server(uvicorn.Config(starlette_app, log_level="warning"))
    server.run(sockets=[sock])


serve_app = typer.Typer(name="mopsgate", add_completion=False)
serve_app.command()(serve)
add_database_url([serve_app])


@serve_app.callback()
def _serve_only() -> None:
    """Governed MCP server for Marketing Operations (``mopsgate --help`` lists every command)."""
