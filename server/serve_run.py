"""What ``mopsgate serve`` does once its options are known: the checks before serving anything,
then the MCP server over stdio or streamable HTTP.

Nothing here imports typer: an MCP client launches ``mopsgate serve`` for every session and waits
for its first ``tools/list``, so the console script parses the usual options itself
(``server/serve_argv.py``) and hands them here; the typer command (``cli_serve.py``) is the same
entry for ``--help`` and for options it must explain. A refusal is a :class:`StartRefused`, which
each caller turns into its own exit.
"""

from __future__ import annotations

import gc
import logging
import os
import sys
from typing import TYPE_CHECKING

from mopsgate.crm.errors import ConfigError
from mopsgate.governance.errors import ManifestError
from mopsgate.server.cli_async import run
from mopsgate.server.listen import PortUnavailable, bind_http_socket, is_loopback
from mopsgate.server.settings import (
    Settings,
    SettingsError,
    ensure_home,
    load_http_session_settings,
    load_settings,
    signing_secret,
)
from mopsgate.storage import (
    SchemaStatus,
    check_writable,
    explain_failure,
    schema_status,
    sqlite_start_status,
)

if TYPE_CHECKING:
    from mopsgate.server.app import Runtime
    from mopsgate.server.surface import GovernedServer

DEFAULT_TRANSPORT = "stdio"
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


class StartRefused(Exception):
    """The server will not start: ``message`` says why (stderr), ``code`` is the exit status."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _refuse(message: str, code: int = 2) -> StartRefused:
    return StartRefused(f"mopsgate: {message}", code)


def _log_to_stderr() -> None:
    logging.basicConfig(
        stream=sys.stderr,
        level=os.environ.get("MOPSGATE_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    # One INFO line per vendor request would drown the log (and, in-process, slow every call).
    logging.getLogger("httpx").setLevel(logging.WARNING)


def start(
    *,
    transport: str = DEFAULT_TRANSPORT,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    principal: str | None = None,
    allow_remote: bool = False,
    manifest: str | None = None,
    home: str | None = None,
) -> None:
    """Check everything a call would need (state directory, database, manifest, configuration,
    production fields, signing secret), then serve until the client goes away."""
    _log_to_stderr()
    try:
        settings = load_settings(manifest, home)
    except SettingsError as exc:
        raise _refuse(f"refusing to start: {exc}") from exc
    try:
        ensure_home(settings)
    except OSError as exc:  # not allowed, a parent missing, a file in the way, a read-only disk
        raise _refuse(f"refusing to start: cannot set up the state directory ({exc})") from exc
    _require_current_schema(settings)
    runtime = _runtime(settings, transport)
    if transport == "stdio":
        _serve_stdio(runtime, principal or os.environ.get("MOPSGATE_PRINCIPAL"))
    elif transport == "http":
        _serve_http(runtime, host, port, allow_remote)
    else:
        raise _refuse(f"unknown transport {transport!r}; use stdio or http")


def _runtime(settings: Settings, transport: str) -> Runtime:
    from mopsgate.server.app import build_runtime

    try:
        runtime = build_runtime(settings)
        runtime.connectors.check_production()
        _check_live_fields(runtime)
        signing_secret(settings)
    except ManifestError as exc:
        problems = [str(p) for p in exc.problems] or [exc.message]
        for line in problems:
            _say(line)
        _audit_refused_start(settings, transport, "manifest_invalid", "; ".join(problems))
        raise _refuse(
            f"refusing to start: {settings.manifest_path} is not a valid manifest "
            "(run 'mopsgate manifest check' for details)"
        ) from exc
    except (ConfigError, SettingsError) as exc:
        _audit_refused_start(settings, transport, "config_invalid", str(exc))
        raise _refuse(f"refusing to start: {exc}") from exc
    return runtime


def _check_live_fields(runtime: Runtime) -> None:
    """Describe every production connector's person objects and refuse to start if the
    manifest names a field the org lacks (catalogue M-21); a vendor that cannot be described
    stops the start too (fail closed). The clients are closed after, so the server opens its
    own on its own event loop."""
    if not runtime.connectors.production():
        return  # nothing to describe (and no client built yet, nothing to close)
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

    async def check() -> SchemaStatus:  # one event loop for both
        await check_writable(cfg)
        return await schema_status(cfg)

    try:
        status = run(check()) if cfg.is_postgres else sqlite_start_status(cfg)
    except Exception as exc:
        problem = explain_failure(cfg, exc)
        if problem is None:
            raise
        raise _refuse(f"refusing to start: {problem.message} {problem.hint}") from exc
    if status.current is not None and not status.up_to_date:
        from mopsgate.server.cli_db import describe

        for line in describe(status):
            _say(line)
        raise _refuse("refusing to start: the database schema does not match this mopsgate")


# Allocations between two young collections while serving (CPython's default is 700). Every
# call in flight holds its request, context, result and audit row while it waits for its
# commit: at 700 a young collection runs every few calls, finds them all still alive and moves
# them to the older generations, whose collections then scan them again. Measured under §2's
# HTTP load (16 clients): 84-106 µs of collector CPU per call at 700, 28-29 µs at 10,000
# (bench/results/issue15-s24-cpu.md); the garbage cycles that wait longer are a few MB at most.
YOUNG_COLLECTION_THRESHOLD = 10_000


def serving_collector() -> None:
    """The collector as a server runs it: what start-up built is frozen (never scanned again:
    it lives as long as the process) and young collections are rarer, then it runs."""
    gc.freeze()
    gc.set_threshold(YOUNG_COLLECTION_THRESHOLD, *gc.get_threshold()[1:])
    gc.enable()


def _serving() -> None:
    """Every check has passed and what the server needs is built. The console script pauses
    the garbage collector while a ``serve`` starts (``server/cli.py``): from here on it runs
    again (``serving_collector``)."""
    if not gc.isenabled():
        serving_collector()


def _serve_stdio(runtime: Runtime, principal: str | None) -> None:
    from mopsgate.server.app import build_server

    if not principal:
        raise _refuse("stdio needs a principal: pass --principal NAME or set MOPSGATE_PRINCIPAL")
    if principal not in runtime.holder.manifest.principals:
        raise _refuse(
            f"unknown principal {principal!r}: it is not in "
            f"{runtime.settings.manifest_path}; every call would be refused"
        )
    import anyio

    server = build_server(runtime, transport="stdio", resolve_principal=lambda _ctx: principal)
    _serving()
    anyio.run(_run_stdio, server)


async def _run_stdio(server: GovernedServer) -> None:
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())


def _serve_http(runtime: Runtime, host: str, port: int, allow_remote: bool) -> None:
    import uvicorn

    from mopsgate.server.connect_help import serving_banner
    from mopsgate.server.http import build_http_app

    if not is_loopback(host) and not allow_remote:
        raise _refuse(
            f"refusing to bind {host}: not a loopback address. Pass --allow-remote "
            "if you really mean to expose mopsgate on the network."
        )
    try:
        sessions = load_http_session_settings()
        sock = bind_http_socket(host, port)
    except (PortUnavailable, SettingsError) as exc:
        raise _refuse(str(exc)) from exc
    starlette_app = build_http_app(runtime, host, port, sessions)
    environments = {str(c.environment) for c in runtime.holder.manifest.connectors.values()}
    banner = serving_banner(runtime.settings, host, port, sandbox_only=environments <= {"sandbox"})
    _say(banner)
    server = uvicorn.Server(uvicorn.Config(starlette_app, log_level="warning"))
    _serving()
    server.run(sockets=[sock])
