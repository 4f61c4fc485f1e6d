"""``mopsgate secret rotate``: a new confirmation-token secret, without stranding the changes
already proposed (catalogue T-18).

The replaced secret is kept beside the new one with the time until which tokens it signed are
still accepted (by default one change lifetime, after which every such token has expired
anyway); after that they are refused as signed with a retired secret. Neither secret is ever
printed or logged: the audit row says a rotation happened and until when the old one holds.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from pathlib import Path
from typing import Annotated

import typer

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.change_model import DEFAULT_TTL
from mopsgate.server.cli_async import run
from mopsgate.server.settings import (
    ensure_home,
    load_settings,
    previous_paths,
    secret_location,
    signing_secret,
)
from mopsgate.storage import append_once

secret_app = typer.Typer(
    no_args_is_help=True, help="The secret confirmation tokens are signed with."
)
HomeOpt = Annotated[str | None, typer.Option("--home", help="State directory.")]
ManifestOpt = Annotated[str | None, typer.Option("--manifest", help="Path to permissions.toml.")]


def _write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` atomically with a 0600 file holding ``data``."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@secret_app.command("rotate")
def rotate(
    grace_hours: Annotated[
        float, typer.Option(help="accept tokens signed with the old secret for this long")
    ] = DEFAULT_TTL.total_seconds() / 3600,
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """Sign new confirmation tokens with a fresh secret; tokens signed with the old one stay
    valid for --grace-hours (default: one change lifetime), then are refused. Every replica
    reads the same files: restart them after rotating."""
    if not 0 <= grace_hours <= 24 * 30:
        typer.echo("mopsgate: --grace-hours must be between 0 and 720", err=True)
        raise typer.Exit(2)
    settings = load_settings(manifest, home)
    ensure_home(settings)
    old = signing_secret(settings)
    current = secret_location(settings)
    previous, until_path = previous_paths(current)
    until = dt.datetime.now(dt.UTC) + dt.timedelta(hours=grace_hours)
    _write_private(previous, old)
    _write_private(until_path, until.isoformat(timespec="seconds").encode("ascii"))
    _write_private(current, secrets.token_bytes(32))
    run(
        append_once(
            settings.storage(),
            AuditEvent(
                kind="token",
                principal="(admin)",
                transport="cli",
                tool="secret rotate",
                result_summary=(
                    "confirmation-token secret rotated; tokens signed with the previous one "
                    f"are accepted until {until:%Y-%m-%d %H:%M} UTC"
                ),
            ),
        )
    )
    typer.echo(
        f"Rotated the signing secret ({current}). Tokens signed with the previous one are "
        f"accepted until {until:%Y-%m-%d %H:%M} UTC; restart every server to use the new one."
    )
