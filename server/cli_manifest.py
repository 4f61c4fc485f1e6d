"""`mopsgate manifest check|explain|schema`: the admin's view of the permission manifest.

``check`` prints compiler-style ``path:line:col: message`` lines so editors and CI can jump to the
problem; ``explain`` shows a principal's effective rights as mopsgate will enforce them, which is
the quickest way to see what an edit really changed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from mopsgate.governance import cadence
from mopsgate.governance.change_model import utcnow
from mopsgate.governance.errors import ManifestError
from mopsgate.governance.manifest_load import Problem, load_manifest, manifest_digest
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.manifest_schema import FILE_NAME, manifest_schema_text
from mopsgate.governance.manifest_warnings import review_warnings
from mopsgate.governance.policy import explain as explain_rights
from mopsgate.governance.policy import field_access, rate_limit
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.cli_exception import exceptions_table, recorded_exceptions
from mopsgate.server.cli_period import bad_option
from mopsgate.server.cli_render import fitted, paragraphs, prose
from mopsgate.server.settings import load_settings
from mopsgate.server.waiver_overlay import in_force

manifest_app = typer.Typer(
    help="Check and explain the permission manifest (permissions.toml).",
    no_args_is_help=True,
)


def _load(path: Path | None) -> tuple[Path, Manifest | None, list[Problem]]:
    target = load_settings(manifest=path).manifest_path
    try:
        return target, load_manifest(target, build_catalogue()), []
    except ManifestError as exc:
        return target, None, exc.problems


def _report(problems: list[Problem], target: Path) -> None:
    for problem in problems:
        typer.echo(str(problem))
    typer.echo(f"{len(problems)} problem(s) in {target}", err=True)


AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="Judge review dates as of this day (YYYY-MM-DD; default today, UTC).",
    ),
]


def _day(as_of: str | None) -> dt.date:
    if as_of is None:
        return cadence.utc_today()
    try:
        return dt.date.fromisoformat(as_of.strip())
    except ValueError as exc:  # typer said "does not match the format" of 2027-02-30 too
        raise bad_option(f"--as-of {as_of!r} is not a day like 2027-06-01 ({exc})") from exc


@manifest_app.command("check")
def check(
    path: Annotated[
        Path | None,
        typer.Argument(help="Manifest to check (default: settings / MOPSGATE_MANIFEST)."),
    ] = None,
    as_of: AsOf = None,
) -> None:
    """Validate the manifest; exit 1 and list every problem if it is invalid. Reviews that are
    overdue or due soon are listed as warnings (exit 0)."""
    day = _day(as_of)  # a bad --as-of is refused before anything is said about the file
    target, manifest, problems = _load(path)
    if manifest is None:
        _report(problems, target)
        raise typer.Exit(1)
    typer.echo(f"OK {target} (digest {manifest_digest(manifest)[:12]})")
    text = target.read_text(encoding="utf-8")
    warnings = review_warnings(manifest, text, str(target), day)
    for warning in warnings:
        typer.echo(str(warning))
    if warnings:
        typer.echo(f"{len(warnings)} warning(s) in {target}", err=True)


@manifest_app.command("schema")
def schema(
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help=f"File to write (e.g. {FILE_NAME}); default stdout."),
    ] = None,
) -> None:
    """Write the manifest's JSON Schema, for editors that validate TOML as you type.

    Put `#:schema ./permissions.schema.json` on the first line of permissions.toml and taplo /
    Even Better TOML check keys, values and descriptions while you edit."""
    text = manifest_schema_text()
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}", err=True)


def _print_principal(console: Console, manifest: Manifest, name: str, today: dt.date) -> None:
    principal = manifest.principals[name]
    console.print(f"[bold]{name}[/bold] — {principal.description or 'no description'}")
    limits = rate_limit(manifest, name)
    console.print(
        f"rate limit: {limits.calls_per_minute} calls/min, "
        f"{limits.records_per_hour} proposed records/hour"
    )
    for uc_name in principal.use_cases:
        uc = manifest.use_cases[uc_name]
        status = cadence.review_status(uc_name, uc, today)
        due = {"current": "", "overdue": " [yellow](review overdue)[/yellow]"}.get(
            status.state, " [red](review overdue: enforced)[/red]"
        )
        console.print(
            f"use case [bold]{escape(uc_name)}[/bold] ({uc.risk_level} risk, review by "
            f"{uc.review_date}{due}, on_overdue {uc.on_overdue}): {escape(uc.purpose)}"
        )
        owners = ", ".join(
            f"{role} {escape(getattr(uc.owners, role) or '-')}"
            for role in ("business", "technical", "data", "risk", "escalation")
        )
        console.print(f"  owners: {owners}")
        if status.overdue:
            console.print(f"  [yellow]{escape(status.describe())}[/yellow]")
    envs = ", ".join(f"{c}={manifest.environment(c)}" for c in manifest.catalogue.objects)
    console.print(f"connectors: {envs}")


@manifest_app.command("explain")
def explain(
    principal: Annotated[str, typer.Option("--principal", "-p", help="Principal to explain.")],
    manifest_path: Annotated[
        Path | None, typer.Option("--manifest", "-m", help="Manifest file (default: settings).")
    ] = None,
    as_of: AsOf = None,
    home: Annotated[
        Path | None,
        typer.Option("--home", help="State directory, for the exceptions in force."),
    ] = None,
) -> None:
    """Show what a principal may do: tools, connectors, modes, fields, approvals and caps,
    with the time-boxed exceptions in force."""
    today = _day(as_of)
    target, manifest, problems = _load(manifest_path)
    if manifest is None:
        _report(problems, target)
        raise typer.Exit(1)
    if principal not in manifest.principals:
        known = ", ".join(sorted(manifest.principals)) or "none"
        typer.echo(f"unknown principal {principal!r} in {target} (known: {known})", err=True)
        raise typer.Exit(1)
    console = Console()
    digest = manifest_digest(manifest)
    now = utcnow()
    waivers = recorded_exceptions(load_settings(manifest=target, home=home))
    manifest, applied = in_force(manifest, waivers, now)
    _print_principal(console, manifest, principal, today)
    console.print(_tools_table(console, manifest, principal, today))
    console.print(_fields_table(console, manifest, principal))
    if applied:
        title = "Time-boxed exceptions in force (included above)"
        console.print(exceptions_table(console, applied, now, title))
    console.print(f"manifest digest {digest[:12]}")


def _tools_table(
    console: Console, manifest: Manifest, principal: str, today: dt.date
) -> RenderableType:
    """One line per tool and outcome; connectors with the same outcome share the line. In a
    terminal too narrow for the table, a paragraph per line of it (tool names, classes and
    rule ids were folded mid-word)."""
    groups: dict[tuple[str, ...], list[str]] = {}
    for row in explain_rights(manifest, principal, today=today):
        cap = str(row.cap) if row.cap is not None else "-"
        key = (row.tool, row.risk, row.mode, row.approvals, cap, row.rule_id)
        groups.setdefault(key, []).append(row.connector or "-")
    title = f"Tools {principal} may use (default deny: anything else)"
    table = Table(title=title)
    table.add_column("Tool", no_wrap=True)
    for column in ("Connectors", "Class", "Mode", "Approvals", "Cap", "Rule"):
        table.add_column(column, overflow="fold")
    for (tool, risk, mode, approvals, cap, rule_id), connectors in groups.items():
        shown = Text(mode, style="red" if mode == "deny" else "")
        table.add_row(tool, ", ".join(connectors), risk, shown, approvals, cap, rule_id)

    def stacked(width: int) -> RenderableType:
        items = [
            (
                [tool, risk, mode],
                [
                    f"on {', '.join(connectors)}",
                    f"approvals {approvals}",
                    f"cap {cap}",
                    f"rule {rule_id}",
                ],
            )
            for (tool, risk, mode, approvals, cap, rule_id), connectors in groups.items()
        ]
        return Group(Text(title, style="bold"), paragraphs(items, width))

    return fitted(console, [table], stacked)


def _fields_table(console: Console, manifest: Manifest, principal: str) -> RenderableType:
    title = f"Fields of person records for {principal}"
    table = Table(title=title)
    columns = ("Object", "Readable", "Withheld", "Writable (proposals)", "PII")
    for column in columns:
        table.add_column(column, overflow="fold")
    rows: list[tuple[str, str, str, str, str]] = []
    for connector, objects in manifest.catalogue.objects.items():
        for obj, of in sorted(objects.items()):
            if not of.fields:
                continue
            fa = field_access(manifest, principal, connector, obj)
            readable = "all" if fa.readable is None else ", ".join(sorted(fa.readable)) or "none"
            pii = "unmasked" if fa.unmasked_pii else "masked: " + ", ".join(sorted(fa.pii_fields))
            denied, writable = ", ".join(sorted(fa.denied)), ", ".join(sorted(fa.writable))
            rows.append((f"{connector} {obj}", readable, denied or "-", writable or "-", pii))
    for row in rows:
        table.add_row(*row)

    def stacked(width: int) -> RenderableType:
        """An object per paragraph, each list wrapped between field names under it."""
        parts: list[RenderableType] = [Text(title, style="bold")]
        for obj, *lists in rows:
            parts.append(Text(obj, style="bold"))
            for name, value in zip(("readable", "withheld", "writable", "PII"), lists, strict=True):
                parts.append(prose(f"{name}: {value}", width))
        return Group(*parts)

    return fitted(console, [table], stacked)
