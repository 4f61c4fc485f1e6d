"""``mopsgate db status|upgrade``: the schema version of the state database, and upgrading it.

The server refuses to start on a database whose schema is older or newer than it was built
for; ``status`` says where a database stands and what an upgrade would apply, ``upgrade``
applies it (after the operator has taken a backup: migrations only move forward).
"""

from __future__ import annotations

from typing import Annotated

import typer

from mopsgate.server.cli_async import run
from mopsgate.server.settings import ensure_home, load_settings
from mopsgate.storage import schema_status, upgrade_schema
from mopsgate.storage.errors import StorageUnavailable
from mopsgate.storage.migrate import SchemaStatus

db_app = typer.Typer(no_args_is_help=True, help="The state database's schema: status, upgrade.")

HomeOpt = Annotated[str | None, typer.Option("--home", help="State directory (env MOPSGATE_HOME).")]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"mopsgate: {message}", err=True)
    return typer.Exit(1)


def describe(status: SchemaStatus) -> list[str]:
    if status.current is None:
        return [
            f"No database at {status.where} yet; it is created at schema version "
            f"{status.head} on first use."
        ]
    lines = [
        f"Database {status.where}: schema version {status.current}, this mopsgate "
        f"needs {status.head}."
    ]
    if status.current > status.head:
        lines.append("It was written by a newer mopsgate; run that version.")
    elif status.pending:
        lines.append("Pending (run `mopsgate db upgrade` after a backup):")
        lines += [f"  {m.label}" for m in status.pending]
    else:
        lines.append("Up to date.")
    return lines


@db_app.command("status")
def status_cmd(home: HomeOpt = None) -> None:
    """Show the schema version and what an upgrade would apply; exit 1 unless the server
    could start on it as it stands."""
    cfg = load_settings(None, home).storage()
    try:
        status = run(schema_status(cfg))
    except StorageUnavailable as exc:
        raise _fail(str(exc)) from exc
    typer.echo("\n".join(describe(status)))
    if status.current is not None and not status.up_to_date:
        raise typer.Exit(1)


@db_app.command("upgrade")
def upgrade_cmd(home: HomeOpt = None) -> None:
    """Apply every pending migration, each in its own transaction (take a backup first)."""
    settings = load_settings(None, home)
    ensure_home(settings)
    cfg = settings.storage()
    try:
        before = run(schema_status(cfg))
        applied = run(upgrade_schema(cfg))
    except StorageUnavailable as exc:
        raise _fail(str(exc)) from exc
    if before.current is None:
        typer.echo(f"Created {cfg.where} at schema version {before.head}.")
        return
    for migration in applied:
        typer.echo(f"Applied {migration.label}.")
    typer.echo(f"{cfg.where} is at schema version {before.head}.")
