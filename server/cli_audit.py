"""`mopsgate audit …` — what auditors and risk owners run.

Everything here only reads the log (read-only connections), so it is safe to run beside a
live server. `verify` exits non-zero on tampering so it can gate a CI job or a cron check.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import sys
import time
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TextIO, TypeVar, cast

import typer
from pydantic import ValidationError
from rich import box
from rich.console import Console, RenderableType
from rich.markup import escape
from rich.table import Table

from mopsgate.crm.refs import parse_ref
from mopsgate.governance.audit_chain import COLUMNS, VerifyResult
from mopsgate.governance.audit_checkpoint import (
    Checkpoint,
    compare,
    read_checkpoint,
    sign_checkpoint,
)
from mopsgate.governance.audit_query import AuditQuery, QueryDecision
from mopsgate.governance.decision_audit import DecisionsVerdict, DeclaredKeys, check_decisions
from mopsgate.governance.errors import ManifestError
from mopsgate.governance.manifest_load import load_manifest, load_manifest_text
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.progress import Progress, Steps
from mopsgate.governance.public_keys import ed25519_fingerprint
from mopsgate.governance.reviewer_keys import public_key_text
from mopsgate.governance.reviewer_proof import declared_keys
from mopsgate.governance.waiver_audit import check_exceptions
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.cli_async import run
from mopsgate.server.cli_period import bad_option, parse_moment, parse_since
from mopsgate.server.cli_progress import progress_bar
from mopsgate.server.cli_render import fitted, paragraphs
from mopsgate.server.cli_review import unknown_reviewer
from mopsgate.server.reviewer_files import KeyFileError, key_path, read_key
from mopsgate.server.settings import load_settings
from mopsgate.storage import AuditReader, audit_reader, stored_decisions, stored_exceptions
from mopsgate.storage.errors import StorageNotFound, StorageUnavailable

audit_app = typer.Typer(help="Inspect, verify and export the tamper-evident audit log.")

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="State directory holding mopsgate.db (default: MOPSGATE_HOME)."),
]
_COLUMNS = (
    "time",
    "principal",
    "use case",
    "tool",
    "connector",
    "decision",
    "rule",
    "outcome",
    "change",
    "records",
)
T = TypeVar("T")


def _reader(home: Path | None) -> tuple[AuditReader, str]:
    cfg = load_settings(home=home).storage()
    return audit_reader(cfg), cfg.where


@contextmanager
def _readable(where: str) -> Iterator[None]:
    """A missing, corrupt or locked database gets a one-line explanation and exit 1, not a
    traceback."""
    try:
        yield
    except StorageNotFound as exc:
        typer.echo(
            f"No audit log at {where}. Run the server once to create it, or pass --home "
            "(or set MOPSGATE_HOME) to point at the right state directory.",
            err=True,
        )
        raise typer.Exit(1) from exc
    except StorageUnavailable as exc:
        typer.echo(f"Cannot read the audit log at {where}: {exc}", err=True)
        raise typer.Exit(1) from exc


def _read(where: str, work: Coroutine[Any, Any, T]) -> T:
    with _readable(where):
        return run(work)


async def _after(reader: AuditReader, seq: int) -> list[dict[str, Any]]:
    return [row.as_dict() async for row in reader.rows(after_seq=seq)]


async def _tail(reader: AuditReader, n: int) -> list[dict[str, Any]]:
    return [row.as_dict() for row in await reader.tail(n)]


EXPORT_STEP = 10_000  # rows between two progress reports


async def _export(reader: AuditReader, out: TextIO, progress: Progress | None = None) -> int:
    """One JSON object per line; JSON escaping keeps CRM text with newlines or ANSI codes from
    forging extra lines in the export. ``progress`` counts rows against the head's seq."""
    steps = Steps(progress, (await reader.head()).seq if progress is not None else 0)
    count = 0
    async for row in reader.rows():
        out.write(json.dumps(row.as_dict(), ensure_ascii=False) + "\n")
        count += 1
        if count % EXPORT_STEP == 0:
            await steps.advance(EXPORT_STEP, f"{count} rows exported")
    await steps.advance(count - steps.done, f"{count} rows exported")
    return count


def _cells(row: dict[str, Any], narrow: bool) -> list[str]:
    records = row.get("records")
    values = (
        str(row["ts"])[5 if narrow else 0 : 19].replace("T", " "),
        row["principal"],
        row.get("use_case"),
        row["tool"] or row["kind"],
        row["connector"],
        row["decision"],
        row["rule_id"],
        row["outcome"] + (f" ({row['error_code']})" if row["error_code"] else ""),
        row["change_id"],
        len(records) if isinstance(records, list) else None,
    )
    # CRM text can carry markup or escape codes; show it literally.
    return [escape(str(v)) if v not in (None, "") else "-" for v in values]


# What a narrower terminal leaves out of the table so the rest stays readable (the stacked
# layout and `audit query --format jsonl|csv` show them all).
_WIDE_ONLY = ("use case", "records")


def _table(rows: list[dict[str, Any]], narrow: bool) -> Table:
    shown = [i for i, name in enumerate(_COLUMNS) if not (narrow and name in _WIDE_ONLY)]
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for i in shown:
        # Never wrapped nor cut: a table that does not fit is not used (see _render).
        table.add_column(_COLUMNS[i], no_wrap=True)
    for row in rows:
        cells = _cells(row, narrow=narrow)
        table.add_row(*(cells[i] for i in shown))
    return table


def _fields(row: dict[str, Any]) -> tuple[list[str], list[str]]:
    """One row as words: who did what, when; then how it was decided and what it touched. A
    word is never split across lines (a cut-off name is not evidence)."""
    first = [
        str(row["ts"])[:19].replace("T", " "),
        row["principal"] or "-",
        row["tool"] or row["kind"],
    ]
    outcome = row["outcome"] + (f" ({row['error_code']})" if row["error_code"] else "")
    # "allowed → ok", "denied (not_permitted)"; a row with no decision (n/a) says its outcome.
    said = outcome.split(" ")[0] == row["decision"] or row["decision"] in (None, "", "n/a")
    decided = outcome if said else f"{row['decision']} → {outcome}"
    rest = [decided]
    if row["connector"]:
        rest.append(f"on {row['connector']}")
    if row["rule_id"]:
        rest.append(f"rule {row['rule_id']}")
    if row.get("use_case"):
        rest.append(f"use case {row['use_case']}")
    if row["change_id"]:
        rest.append(f"change {row['change_id']}")
    records = row.get("records")
    if isinstance(records, list):
        rest.append(f"{len(records)} record(s)")
    return first, rest


def _render(rows: list[dict[str, Any]], console: Console) -> RenderableType:
    """The table when every cell fits on one line (without the use case and records if need
    be), otherwise a paragraph per row: nothing is folded mid-word nor cut off."""
    return fitted(
        console,
        [_table(rows, narrow=False), _table(rows, narrow=True)],
        lambda width: paragraphs([_fields(row) for row in rows], width),
    )


@audit_app.command("tail")
def tail_cmd(
    n: Annotated[int, typer.Option("-n", "--lines", min=1, help="How many rows.")] = 20,
    follow: Annotated[bool, typer.Option("--follow/--no-follow", help="Keep polling.")] = False,
    home: HomeOption = None,
) -> None:
    """Show the most recent audit rows (who, what, under which rule, with what outcome)."""
    reader, where = _reader(home)
    console = Console(highlight=False)
    rows = _read(where, _tail(reader, n))
    console.print(_render(rows, console))
    if not follow:
        return
    last = rows[-1]["seq"] if rows else 0
    try:
        while True:
            time.sleep(1.0)
            new = _read(where, _after(reader, last))
            if new:
                console.print(_render(new, console))
                last = new[-1]["seq"]
    except KeyboardInterrupt:
        return


@audit_app.command("verify")
def verify_cmd(
    home: HomeOption = None,
    against: Annotated[
        Path | None,
        typer.Option("--against", help="A signed checkpoint (audit checkpoint) to hold it to."),
    ] = None,
) -> None:
    """Check the hash chain and every decision's and exception's signature; exit 1 and name
    what is wrong if anything was altered. With --against, also that the log still holds the
    signed checkpoint (a consistent rewrite of the whole chain verifies locally, not against
    it)."""
    if against is not None and not against.is_file():
        # A mistyped path is not evidence of tampering: say so before checking anything.
        typer.echo(f"mopsgate: no checkpoint file at {against}; check the path", err=True)
        raise typer.Exit(2)
    reader, where = _reader(home)
    with progress_bar("Checking the hash chain", "rows") as progress:
        result: VerifyResult = _read(where, reader.verify(progress=progress))
    if result.ok:
        typer.echo(f"OK: {result.rows} rows, chain intact (head {result.head_hash[:12]})")
    else:
        typer.echo(f"TAMPERED: first bad row seq={result.first_bad_seq}: {result.problem}")
    checkpoint_problem = None
    if against is not None:
        checkpoint_problem = _against(
            reader, where, against, load_settings(home=home).manifest_path
        )
        if checkpoint_problem is None:
            typer.echo(f"OK: the log still holds the signed checkpoint {against}")
        else:
            typer.echo(f"TAMPERED: {checkpoint_problem}")
    storage = load_settings(home=home).storage()
    decisions, texts = _read(where, stored_decisions(storage))
    declared = _declared_in(texts)
    verdict = check_decisions(decisions, declared)
    _say(verdict, "decision", "decisions")
    try:
        waivers = _read(where, stored_exceptions(storage))
    except ValidationError as exc:  # a stored statement edited into something unreadable
        first = str(exc).splitlines()[0]
        waivers_ok = False
        typer.echo(f"TAMPERED: exceptions: a stored signed statement cannot be read ({first})")
    else:
        exceptions = check_exceptions(waivers, declared)
        _say(exceptions, "exception", "grants and revocations of exceptions")
        waivers_ok = exceptions.ok
    if not (result.ok and verdict.ok and waivers_ok) or checkpoint_problem is not None:
        raise typer.Exit(1)


def _say(verdict: DecisionsVerdict, one: str, many: str) -> None:
    for problem in verdict.problems:
        typer.echo(f"TAMPERED: {one} {problem}")
    if verdict.ok:
        unproven = (
            f"; {verdict.keys_unrecorded} not provable: their manifest is not in the history"
            if verdict.keys_unrecorded
            else ""
        )
        typer.echo(
            f"OK: {verdict.checked} {many}, every signature verifies "
            f"({verdict.keys_proven} keys shown declared by the manifest in force{unproven})"
        )


@audit_app.command("checkpoint")
def checkpoint_cmd(
    reviewer: Annotated[str, typer.Option("--reviewer", help="Who signs (their own key).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write it: off the server.")],
    home: HomeOption = None,
) -> None:
    """Sign the chain's head with REVIEWER's key and write it to OUT, to keep where the server
    cannot write; `audit verify --against OUT` later proves the log up to it was not rewritten."""
    settings = load_settings(home=home)
    manifest = _current_manifest(settings.manifest_path)
    stranger = unknown_reviewer(manifest, reviewer)
    if stranger is not None:  # who signs is checked first, before anything about the log
        typer.echo(f"{stranger.message} (a checkpoint is signed by a reviewer)", err=True)
        raise typer.Exit(1)
    reader, where = _reader(home)
    result: VerifyResult = _read(where, reader.verify())
    if not result.ok:
        typer.echo(f"TAMPERED: first bad row seq={result.first_bad_seq}: {result.problem}")
        typer.echo("Refusing to sign a checkpoint of a chain that does not verify.", err=True)
        raise typer.Exit(1)
    if result.rows == 0:
        typer.echo("The audit log is empty: nothing to sign.", err=True)
        raise typer.Exit(1)
    if _inside(out, settings.home):
        typer.echo(
            f"{out} is inside the state directory {settings.home}: whoever can rewrite the log "
            "could rewrite the checkpoint too. Write it somewhere the server cannot.",
            err=True,
        )
        raise typer.Exit(1)
    try:
        key = read_key(key_path(reviewer), settings.home, reviewer)
    except KeyFileError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    declared = declared_keys(manifest, reviewer)
    if ed25519_fingerprint(public_key_text(key)) not in declared:
        typer.echo(
            f"{reviewer}'s key is not declared for them in the manifest; a checkpoint it signs "
            "could not be verified.",
            err=True,
        )
        raise typer.Exit(1)
    head = _read(where, reader.head())
    at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    doc = sign_checkpoint(Checkpoint(head.seq, head.row_hash, reviewer, at), key)
    try:
        # Never over an earlier checkpoint: it is the evidence that the log up to it was not
        # rewritten since, which a new one signed over a rewritten log would no longer show.
        with out.open("x", encoding="utf-8") as fh:
            fh.write(json.dumps(doc, indent=2) + "\n")
    except FileExistsError as exc:
        typer.echo(
            f"{out} exists already (an earlier checkpoint?); it is kept. Write this one to "
            "another file, e.g. one named with the date.",
            err=True,
        )
        raise typer.Exit(1) from exc
    typer.echo(
        f"Signed checkpoint: seq={head.seq} head {head.row_hash[:12]} by {reviewer} -> {out}"
    )


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def _current_manifest(path: Path) -> Manifest:
    try:
        return load_manifest(path, build_catalogue())
    except ManifestError as exc:
        typer.echo(f"Cannot read the manifest to find the reviewer's keys: {exc}", err=True)
        raise typer.Exit(1) from exc


def _against(reader: AuditReader, where: str, path: Path, manifest_path: Path) -> str | None:
    """Why the log does not hold the signed checkpoint at ``path``, or None when it does."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        reviewer = str(doc.get("checkpoint", {}).get("reviewer", ""))
        declared = declared_keys(_current_manifest(manifest_path), reviewer)
        checkpoint = read_checkpoint(doc, declared)
    except (OSError, ValueError, AttributeError) as exc:
        return f"checkpoint {path} cannot be trusted: {exc}"
    row = _read(where, _row_at(reader, checkpoint.seq))
    return compare(checkpoint, None if row is None else str(row["row_hash"]))


async def _row_at(reader: AuditReader, seq: int) -> dict[str, Any] | None:
    async for row in reader.rows(after_seq=seq - 1):
        found = row.as_dict()
        return found if found["seq"] == seq else None
    return None


def _declared_in(texts: dict[str, str]) -> DeclaredKeys:
    """Which keys each recorded manifest declared per reviewer (None: no text recorded). The
    catalogue (every tool imported) is built only once a decision needs a manifest read."""
    manifests: dict[str, Manifest | None] = {}

    def declared(digest: str, reviewer: str) -> frozenset[str] | None:
        if digest not in manifests:
            text = texts.get(digest)
            try:
                manifests[digest] = (
                    None
                    if text is None
                    else load_manifest_text(text, f"manifest {digest[:12]}", build_catalogue())
                )
            except ManifestError:
                manifests[digest] = None
        found = manifests[digest]
        return None if found is None else frozenset(declared_keys(found, reviewer))

    return declared


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
    reader, where = _reader(home)
    if output is None:
        with progress_bar("Exporting", "rows") as progress:
            _read(where, _export(reader, sys.stdout, progress))
        return
    with output.open("w", encoding="utf-8") as out, progress_bar("Exporting", "rows") as progress:
        count = _read(where, _export(reader, out, progress))
    typer.echo(f"Exported {count} rows to {output}", err=True)


# Spreadsheets run a cell that starts with one of these as a formula; CRM text could.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        value = json.dumps(value, ensure_ascii=False)
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


async def _write_query(reader: AuditReader, q: AuditQuery, fmt: str, out: TextIO) -> int:
    """Stream the matching rows as jsonl or csv; returns how many were written."""
    count = 0
    writer = csv.writer(out) if fmt == "csv" else None
    if writer is not None:
        writer.writerow(COLUMNS)
    async for row in reader.query(q):
        record = row.as_dict()
        if writer is not None:
            writer.writerow([_csv_cell(record[name]) for name in COLUMNS])
        else:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


async def _collect(reader: AuditReader, q: AuditQuery) -> list[dict[str, Any]]:
    return [row.as_dict() async for row in reader.query(q)]


@audit_app.command("query")
def query_cmd(
    principal: Annotated[str | None, typer.Option("--principal", help="Who called.")] = None,
    use_case: Annotated[
        str | None, typer.Option("--use-case", help="The use case the call ran under.")
    ] = None,
    tool: Annotated[
        str | None, typer.Option("--tool", help="A tool, e.g. get_person or 'review approve'.")
    ] = None,
    record: Annotated[
        str | None,
        typer.Option(
            "--record",
            help="A record reference (e.g. hubspot:contact:1051): every call that returned it, "
            "every proposal targeting it, and every review, apply and revert of those changes.",
        ),
    ] = None,
    change: Annotated[str | None, typer.Option("--change", help="A change id.")] = None,
    decision: Annotated[str | None, typer.Option("--decision", help="allowed or denied.")] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="From: 90d, 12w, 48h or a date (UTC).")
    ] = None,
    until: Annotated[
        str | None, typer.Option("--until", help="Up to this date or date-time (UTC).")
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="At most N rows.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, jsonl or csv.")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write.")] = None,
    home: HomeOption = None,
) -> None:
    """Rows matching every filter given, oldest first: who did and saw what, when, under
    which use case and rule, with what outcome."""
    if fmt not in ("table", "jsonl", "csv"):
        raise bad_option(f"--format {fmt!r} is not one of table, jsonl, csv")
    if decision not in (None, "allowed", "denied"):
        raise bad_option(f"--decision {decision!r} is neither allowed nor denied")
    if record is not None:
        try:
            parse_ref(record.strip())
        except ValueError as exc:  # an email or a bare id matches nothing: say so, not "0 rows"
            raise bad_option(f"--record: {exc}") from exc
    end = parse_moment(until, "--until") if until else None
    start = parse_since(since, end or dt.datetime.now(dt.UTC)) if since else None
    if start is not None and start >= (end or dt.datetime.now(dt.UTC)):
        # no row can match: say so rather than "0 row(s)", which reads as "nobody did anything"
        until_text = f"--until {until}" if until else "now"
        raise bad_option(f"the period is empty: --since {since} is not before {until_text}")
    q = AuditQuery(
        principal=principal,
        use_case=use_case,
        tool=tool,
        record=record,
        change_id=change,
        decision=cast(QueryDecision | None, decision),
        since=start,
        until=end,
        limit=limit,
    )
    reader, where = _reader(home)
    if fmt == "table":
        rows = _read(where, _collect(reader, q))
        if output is None:
            console = Console(highlight=False)
            console.print(_render(rows, console))
        else:
            with output.open("w", encoding="utf-8") as fh:
                wide = Console(highlight=False, file=fh, width=200)
                wide.print(_render(rows, wide))
        typer.echo(f"{len(rows)} row(s) ({q.describe()})", err=True)
        return
    if output is None:
        _read(where, _write_query(reader, q, fmt, sys.stdout))
        return
    with output.open("w", encoding="utf-8", newline="") as out:
        count = _read(where, _write_query(reader, q, fmt, out))
    typer.echo(f"Wrote {count} rows to {output} ({q.describe()})", err=True)
