"""`mopsgate audit …` — what auditors and risk owners run.

Everything here only reads the log (read-only SQLite connection), so it is safe to run beside a
live server. `verify` exits non-zero on tampering so it can gate a CI job or a cron check.
"""

from __future__ import annotations

import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from mopsgate.governance.audit_verify import export_jsonl, iter_rows, tail, verify
from mopsgate.server.settings import load_settings

audit_app = typer.Typer(help="Inspect, verify and export the tamper-evident audit log.")

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="State directory holding mopsgate.db (default: MOPSGATE_HOME)."),
]
_COLUMNS = ("time", "principal", "tool", "connector", "decision", "rule", "outcome", "change")


def _db_path(home: Path | None) -> Path:
    """Resolve the DB and fail with a message a person can act on when it is not there."""
    path = load_settings(home=home).db_path
    if not path.is_file():
        typer.echo(
            f"No audit log at {path}. Run the server once to create it, or pass --home "
            "(or set MOPSGATE_HOME) to point at the right state directory.",
            err=True,
        )
        raise typer.Exit(1)
    return path


@contextmanager
def _readable(path: Path) -> Iterator[None]:
    """A corrupt or locked file gets a one-line explanation and exit 1, not a traceback."""
    try:
        yield
    except sqlite3.Error as exc:
        typer.echo(f"Cannot read the audit log at {path}: {exc}", err=True)
        raise typer.Exit(1) from exc


def _cells(row: dict[str, Any], narrow: bool) -> list[str]:
    values = (
        str(row["ts"])[5 if narrow else 0 : 19].replace("T", " "),
        row["principal"],
        row["tool"] or row["kind"],
        row["connector"],
        row["decision"],
        row["rule_id"],
        row["outcome"] + (f" ({row['error_code']})" if row["error_code"] else ""),
        row["change_id"],
    )
    # CRM text can carry markup or escape codes; show it literally.
    return [escape(str(v)) if v not in (None, "") else "-" for v in values]


def _table(rows: list[dict[str, Any]], width: int) -> Table:
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column(_COLUMNS[0], no_wrap=True)
    for name in _COLUMNS[1:]:
        # Fold rather than ellipsize: a cut-off name is not evidence.
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*_cells(row, narrow=width < 110))
    return table


@audit_app.command("tail")
def tail_cmd(
    n: Annotated[int, typer.Option("-n", "--lines", min=1, help="How many rows.")] = 20,
    follow: Annotated[bool, typer.Option("--follow/--no-follow", help="Keep polling.")] = False,
    home: HomeOption = None,
) -> None:
    """Show the most recent audit rows (who, what, under which rule, with what outcome)."""
    path = _db_path(home)
    console = Console(highlight=False)
    with _readable(path):
        rows = tail(path, n)
    console.print(_table(rows, console.width))
    if not follow:
        return
    last = rows[-1]["seq"] if rows else 0
    try:
        while True:
            time.sleep(1.0)
            with _readable(path):
                new = list(iter_rows(path, after_seq=last))
            if new:
                console.print(_table(new, console.width))
                last = new[-1]["seq"]
    except KeyboardInterrupt:
        return


@audit_app.command("verify")
def verify_cmd(home: HomeOption = None) -> None:
    """Check the hash chain; exit 1 and name the first bad row if anything was altered."""
    path = _db_path(home)
    with _readable(path):
        result = verify(path)
    if result.ok:
        typer.echo(f"OK: {result.rows} rows, chain intact (head {result.head_hash[:12]})")
        return
    typer.echo(f"TAMPERED: first bad row seq={result.first_bad_seq}: {result.problem}")
    raise typer.Exit(1)


@audit_app.command("export")
def export_cmd(
    fmt: Annotated[str, typer.Option("--format", help="Only jsonl for now.")] = "jsonl",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
    home: HomeOption = None,
) -> None:
    """Write every row as one JSON object per line, for a SIEM or an auditor."""
    if fmt != "jsonl":
        typer.echo(f"Unsupported format {fmt!r}; use --format jsonl.", err=True)
        raise typer.Exit(2)
    path = _db_path(home)
    with _readable(path):
        if output is None:
            export_jsonl(path, sys.stdout)
            return
        with output.open("w", encoding="utf-8") as out:
            count = export_jsonl(path, out)
    typer.echo(f"Exported {count} rows to {output}", err=True)
