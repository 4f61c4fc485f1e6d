"""`mopsgate report risk-review`: the one artefact a risk-review board asks for.

Reads the evidence (the manifest in force, the audit log with its chain checked, the changes,
the manifest history, the exceptions), builds the report in the pure core
(``governance/report_build.py``) and renders it as one self-contained HTML file, Markdown for a
pull request, or JSON for other tools. Reading only: it is safe beside a running server.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, cast

import typer

from mopsgate.governance.audit_query import AuditQuery
from mopsgate.governance.errors import ManifestError
from mopsgate.governance.manifest_history import ManifestLoad
from mopsgate.governance.manifest_load import load_manifest, manifest_digest
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.report_build import ReportInputs, build_report
from mopsgate.governance.report_model import ExceptionEntry, ManifestVersion
from mopsgate.governance.waivers import Waiver
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.cli_async import run
from mopsgate.server.cli_manifest_history import manifest_history
from mopsgate.server.cli_period import parse_moment, parse_since
from mopsgate.server.manifest_problem import unusable_manifest
from mopsgate.server.report_render import Format, render
from mopsgate.server.settings import Settings, load_settings
from mopsgate.storage import audit_reader, storage_to_read
from mopsgate.storage.errors import StorageNotFound

report_app = typer.Typer(
    no_args_is_help=True, help="Reports for risk owners, auditors and the risk-review board."
)
ALL_CHANGES = 1_000_000


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"mopsgate: {message}", err=True)
    return typer.Exit(code)


async def _gather(
    settings: Settings, in_force: Manifest, since: dt.datetime, until: dt.datetime
) -> ReportInputs:
    reader = audit_reader(settings.storage())
    rows = [row async for row in reader.query(AuditQuery(since=since, until=until))]
    chain = await reader.verify()
    async with storage_to_read(settings.storage()) as storage:  # exported evidence too
        changes = await storage.changes.list_changes(limit=ALL_CHANGES)
        history = await manifest_history(storage)
        waivers = await storage.exceptions.all()
    return ReportInputs(
        manifest=in_force,
        manifest_digest=manifest_digest(in_force),
        rows=rows,
        changes=changes,
        since=since,
        until=until,
        chain=chain,
        manifest_versions=[
            _version(load, changed) for load, changed in history if since <= load.at <= until
        ],
        exceptions=[_exception(w, until) for w in waivers if _overlaps(w, since, until)],
    )


def _version(load: ManifestLoad, changes: list[str]) -> ManifestVersion:
    return ManifestVersion(
        digest=load.digest,
        at=load.at,
        outcome=load.outcome,
        loaded_by=load.loaded_by,
        git_commit=load.git_commit,
        git_author=load.git_author,
        reason=load.reason,
        changes=changes,
    )


def _overlaps(w: Waiver, since: dt.datetime, until: dt.datetime) -> bool:
    ended = min(w.expires_at, w.revoked_at or w.expires_at)
    return w.granted_at <= until and ended >= since


def _exception(w: Waiver, until: dt.datetime) -> ExceptionEntry:
    return ExceptionEntry(
        id=w.id,
        use_case=w.use_case,
        what=w.what,
        granted_at=w.granted_at,
        expires_at=w.expires_at,
        reviewer=w.reviewer,
        ticket=w.ticket,
        reason=w.reason,
        state=w.state(until),
        revoked_at=w.revoked_at,
        revoked_by=w.revoked_by,
    )


@report_app.command("risk-review")
def risk_review(
    since: Annotated[
        str, typer.Option("--since", help="Start of the period: 90d, 12w, 48h or a date.")
    ] = "90d",
    until: Annotated[
        str | None,
        typer.Option("--until", help="End of the period (a date or date-time; default now)."),
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help="html (printable, one file), md or json.")
    ] = "html",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="File to write.")] = None,
    manifest: Annotated[
        str | None, typer.Option("--manifest", help="permissions.toml (env MOPSGATE_MANIFEST).")
    ] = None,
    home: Annotated[
        str | None, typer.Option("--home", help="State directory (env MOPSGATE_HOME).")
    ] = None,
) -> None:
    """Where AI risk sits: use cases, owners and reviews, what was read, proposed, approved,
    rejected, refused and changed, freezes, manifest versions, exceptions, problems found."""
    if fmt not in ("html", "md", "json"):
        raise _fail(f"--format {fmt!r} is not one of html, md, json", 2)
    end = parse_moment(until, "--until") if until else dt.datetime.now(dt.UTC)
    start = parse_since(since, end)
    if start >= end:
        until_text = f"--until {until}" if until else "now"
        raise _fail(f"the period is empty: --since {since} is not before {until_text}", 2)
    settings = load_settings(manifest, home)
    try:
        in_force = load_manifest(settings.manifest_path, build_catalogue())
    except ManifestError as exc:
        raise _fail(unusable_manifest(settings.manifest_path, exc), 2) from exc
    try:
        inputs = run(_gather(settings, in_force, start, end))
    except StorageNotFound as exc:
        raise _fail(
            f"no audit log at {settings.storage().where}: pass --home (or set MOPSGATE_HOME) "
            "to the state directory of the server to report on"
        ) from exc
    report = build_report(inputs)
    text = render(report, cast(Format, fmt))
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out} ({fmt}, {report.activity.calls} calls in the period)", err=True)
