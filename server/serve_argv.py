"""``mopsgate serve``'s options read without typer, for the start an MCP client waits on.

Importing typer and building its command costs a serve start more than anything else it does
before the manifest is read. The options a client's configuration passes are few and plain, so
the standard library reads them here, with the defaults and environment variables of the typer
command (``cli_serve.py``), which stays the one that explains itself: ``--help``, a misspelt or
malformed option, anything this reader does not accept exactly, go to typer instead
(:func:`read` answers None) and get the same message as ever.
"""

from __future__ import annotations

import argparse
import errno
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn

from mopsgate.server.serve_run import DEFAULT_HOST, DEFAULT_PORT, DEFAULT_TRANSPORT


class _Unread(Exception):
    """Options this reader leaves to typer."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Unread(message)


@dataclass(frozen=True)
class ServeOptions:
    transport: str
    host: str
    port: int
    principal: str | None
    allow_remote: bool
    manifest: str | None
    home: str | None
    database_url: str | None


def _parser() -> _Parser:
    p = _Parser(prog="mopsgate serve", add_help=False, allow_abbrev=False)
    p.add_argument("--transport", default=DEFAULT_TRANSPORT)
    p.add_argument("--host")
    p.add_argument("--port")
    p.add_argument("--principal")
    p.add_argument("--allow-remote", action=argparse.BooleanOptionalAction, default=False)
    p.add_argument("--manifest")
    p.add_argument("--home")
    p.add_argument("--database-url")
    return p


def read(argv: list[str], env: Mapping[str, str] = os.environ) -> ServeOptions | None:
    """The options of ``mopsgate serve <argv>``, or None for typer to read (and explain)."""
    try:
        ns = _parser().parse_args(argv)
    except _Unread:
        return None
    # As click reads an option's environment variable: used when the flag is absent and the
    # variable is set to something; a port that is not a number is for typer to explain.
    host = ns.host if ns.host is not None else (env.get("MOPSGATE_HOST") or DEFAULT_HOST)
    port_text = ns.port if ns.port is not None else (env.get("MOPSGATE_PORT") or None)
    try:
        port = DEFAULT_PORT if port_text is None else int(port_text)
    except ValueError:
        return None
    if not 0 <= port <= 65535:
        return None  # typer says which values a port takes
    return ServeOptions(
        transport=ns.transport,
        host=host,
        port=port,
        principal=ns.principal,
        allow_remote=ns.allow_remote,
        manifest=ns.manifest,
        home=ns.home,
        database_url=ns.database_url,
    )


def serve(options: ServeOptions) -> NoReturn:
    """Run the server as the typer command would, with its exit statuses: a refusal's own
    (its message on stderr), 130 on Ctrl-C, 1 when stdout or stderr is a closed pipe."""
    from mopsgate.server.serve_run import StartRefused, start
    from mopsgate.server.settings import DATABASE_URL_FLAG

    DATABASE_URL_FLAG.set(options.database_url)
    try:
        start(
            transport=options.transport,
            host=options.host,
            port=options.port,
            principal=options.principal,
            allow_remote=options.allow_remote,
            manifest=options.manifest,
            home=options.home,
        )
    except StartRefused as exc:
        print(exc.message, file=sys.stderr, flush=True)
        sys.exit(exc.code)
    except KeyboardInterrupt:
        sys.exit(130)
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        sys.exit(1)
    sys.exit(0)
