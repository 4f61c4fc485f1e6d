"""The ``mopsgate`` command: serve, tokens, manifest, audit (and, for humans only, review).

Human output goes to stdout for admin commands; ``serve`` logs to stderr only, because over
stdio the MCP protocol owns stdout.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from mopsgate.crm.errors import ConfigError
from mopsgate.governance.errors import ManifestError
from mopsgate.server.cli_async import run
from mopsgate.server.cli_audit import audit_app
from mopsgate.server.cli_db import db_app, describe
from mopsgate.server.cli_decide import add_decision_commands
from mopsgate.server.cli_errors import add_database_url, guard_commands
from mopsgate.server.cli_manifest import manifest_app
from mopsgate.server.cli_notify import notify_app
from mopsgate.server.cli_report import report_app
from mopsgate.server.cli_review import freeze_cmd, review_app, unfreeze_cmd
from mopsgate.server.cli_reviewer import reviewer_app
from mopsgate.server.cli_sandbox import sandbox_app
from mopsgate.server.cli_token import token_app
from mopsgate.server.connect_help import serving_banner
from mopsgate.server.listen import PortUnavailable, bind_http_socket
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

app = typer.Typer(
    name="mopsgate",
    no_args_is_help=True,
    add_completion=False,
    help="Governed MCP server for Marketing Operations.",
)
app.add_typer(manifest_app, name="manifest", help="Check and explain the permission manifest.")
app.add_typer(audit_app, name="audit", help="Read and verify the tamper-evident audit log.")
app.add_typer(report_app, name="report", help="The risk-review report (HTML, Markdown, JSON).")
app.add_typer(sandbox_app, name="sandbox")
add_decision_commands(review_app)
app.add_typer(
    review_app, name="review", help="Human review of proposed changes (not reachable over MCP)."
)
app.add_typer(
    reviewer_app, name="reviewer", help="Enrol reviewers: a signing key, or a console passkey."
)
app.command("freeze", help="Stop all applies at once (kill switch).")(freeze_cmd)
app.command("unfreeze", help="Allow applies again.")(unfreeze_cmd)
app.add_typer(token_app, name="token")
app.add_typer(db_app, name="db")
app.add_typer(notify_app, name="notify")

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


def _runtime(settings: Settings):  # type: ignore[no-untyped-def]
    from mopsgate.server.app import build_runtime

    try:
        runtime = build_runtime(settings)
        runtime.connectors.check_production()
        signing_secret(settings)
    except ManifestError as exc:
        for line in [str(p) for p in exc.problems] or [exc.message]:
            typer.echo(line, err=True)
        raise _fail(
            f"refusing to start: {settings.manifest_path} is not a valid manifest "
            "(run 'mopsgate manifest check' for details)"
        ) from exc
    except (ConfigError, SettingsError) as exc:
        raise _fail(f"refusing to start: {exc}") from exc
    return runtime


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


@app.command()
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
    runtime = _runtime(settings)
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

    if not _is_loopback(host) and not allow_remote:
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
    typer.echo(serving_banner(runtime.settings, host, port), err=True)
    server = uvicorn.Server(uvicorn.Config(starlette_app, log_level="warning"))
    server.run(sockets=[sock])


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


# Last, once every command is registered: a failure about the database is one line, never a
# traceback (serve has its own start-up checks and exit code).
_STATE_APPS = [
    app,
    manifest_app,
    audit_app,
    report_app,
    review_app,
    reviewer_app,
    token_app,
    db_app,
    notify_app,
]
guard_commands([*_STATE_APPS, sandbox_app], except_names={"serve"})
# The sandbox's own file is not mopsgate's state: its commands take --home, never a database.
add_database_url(_STATE_APPS)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
