"""`mopsgate review …`, `mopsgate freeze` and `mopsgate unfreeze` — for humans only.

Approval deliberately lives here and not in any MCP tool: the assistant's credentials cannot reach
it. Every action, refused ones included, becomes an audit row before the command returns, and a
refusal exits 1 with the reason on stderr so scripts and people both notice.
"""

from __future__ import annotations

import getpass
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console, RenderableType
from rich.table import Table
from rich.text import Text

from mopsgate.governance.approvals import approval_summary, principal_as_reviewer
from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.change_facts import tell_by
from mopsgate.governance.change_model import Change, ChangeStatus, utcnow
from mopsgate.governance.change_story import ChangeStory, PiiView
from mopsgate.governance.diff_lines import visible
from mopsgate.governance.errors import AuditUnavailable, ManifestError, NotPermitted
from mopsgate.governance.freeze import FreezeState, freezing
from mopsgate.governance.manifest_load import digest_matches, load_manifest
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.policy import reviewer_may_approve
from mopsgate.governance.public_keys import ed25519_fingerprint
from mopsgate.governance.review_events import view_event
from mopsgate.governance.reviewer_keys import public_key_text
from mopsgate.governance.reviewer_proof import declared_keys
from mopsgate.governance.risk import RiskClass
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.cli_async import run
from mopsgate.server.cli_render import fitted, paragraphs, render_rich
from mopsgate.server.cli_story import render_story
from mopsgate.server.console.change_view import Paging, page_of, records_on
from mopsgate.server.manifest_problem import unusable_manifest
from mopsgate.server.registry import registry_for
from mopsgate.server.reviewer_files import KeyFileError, key_path, read_key
from mopsgate.server.settings import Settings, ensure_home, load_settings
from mopsgate.storage import Storage, open_storage, storage_to_read

T = TypeVar("T")
PAGE_SIZE = 100  # records whose people are looked up and shown at once, as in the console

review_app = typer.Typer(
    no_args_is_help=True,
    help="Review proposed changes: list, show the diff, approve or reject (humans only).",
)
ManifestOpt = Annotated[
    str | None,
    typer.Option("--manifest", help="Path to permissions.toml (env MOPSGATE_MANIFEST)."),
]
HomeOpt = Annotated[str | None, typer.Option("--home", help="State directory (env MOPSGATE_HOME).")]


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"mopsgate: {message}", err=True)
    return typer.Exit(code)


def review_settings(manifest: str | None, home: str | None) -> Settings:
    settings = load_settings(manifest, home)
    ensure_home(settings)
    return settings


def existing_state_settings(
    manifest: str | None, home: str | None, refused: str = "", code: int = 1
) -> Settings:
    """For a command about the state a server keeps (its queue, outbox, freeze): a state
    directory without its database is most likely the wrong one, where an empty database made
    on the spot would answer "nothing waits", or take a freeze no server ever reads. Say where
    it looked instead (and leave nothing behind); ``refused`` says what was not done."""
    settings = load_settings(manifest, home)
    if not settings.database_url and not settings.db_path.exists():
        raise fail(
            f"no mopsgate state at {settings.db_path}{refused}. Pass --home (or set "
            "MOPSGATE_HOME) to point at the right state directory; a new one is made by the "
            "server's first start (or `mopsgate db upgrade`).",
            code,
        )
    ensure_home(settings)
    return settings


def with_storage(
    settings: Settings, work: Callable[[Storage], Awaitable[T]], *, reading: bool = False
) -> T:
    """Run ``work`` against the same storage the server uses (a failure to open it is one
    line, see ``cli_errors``). ``reading``: ``work`` writes nothing, not even an audit row, so
    a state directory this user may not write is read from a private copy
    (``storage_to_read``)."""

    async def session() -> T:
        if reading:
            async with storage_to_read(settings.storage()) as storage:
                return await work(storage)
        storage = await open_storage(settings.storage())
        try:
            return await work(storage)
        finally:
            await storage.close()

    try:
        return run(session())
    except AuditUnavailable as exc:
        raise fail(f"{exc.message} {exc.hint}") from exc


def manifest_or_exit(settings: Settings) -> Manifest:
    try:
        return load_manifest(settings.manifest_path, build_catalogue())
    except ManifestError as exc:
        raise fail(unusable_manifest(settings.manifest_path, exc), 2) from exc


async def _audit(storage: Storage, **fields: Any) -> None:
    """Every review action, refused ones included, is a durable audit row before the command
    returns; if it cannot be written, the command fails (AuditUnavailable, one line)."""
    await storage.audit.append(AuditEvent(transport="cli", **fields))


def unknown_reviewer(m: Manifest, reviewer: str) -> NotPermitted | None:
    """The refusal for a name the manifest does not list as a reviewer, or None. Checked before
    the change (exception, manifest edit) is looked up: whoever is not a reviewer learns that
    first, and nothing about which changes exist."""
    if reviewer in m.reviewers:
        return None
    details = {"reviewer": reviewer}
    if principal := principal_as_reviewer(m, reviewer, details):
        return principal
    # Any risk class: an unknown name is refused before its risk classes are looked at.
    decision = reviewer_may_approve(m, reviewer, RiskClass.READ)
    return NotPermitted(
        decision.reason,
        rule_id=decision.rule_id,
        details={**details, "reason_code": "reviewer_not_allowed"},
    )


def _effective_status(change: Change, m: Manifest | None = None) -> str:
    """The stored status, or what it has become without anyone writing it yet: an open change
    past its expiry is expired, one planned under another manifest than ``m`` is stale (it can
    be neither approved nor applied; the requester must propose it again)."""
    open_ = change.status in {ChangeStatus.PROPOSED, ChangeStatus.APPROVED}
    if open_ and change.is_expired(utcnow()):
        return "expired"
    if open_ and m is not None and not digest_matches(change.manifest_digest, m):
        return "stale"
    return str(change.status)


OPEN = {ChangeStatus.PROPOSED, ChangeStatus.APPROVED}
BECOME = {ChangeStatus.EXPIRED, ChangeStatus.STALE}  # what an open change turns into unwritten


def _manifest_if_readable(settings: Settings) -> Manifest | None:
    """The manifest, to tell stale changes; a list still lists when it cannot be read."""
    try:
        return load_manifest(settings.manifest_path, build_catalogue())
    except ManifestError:
        return None


@review_app.command("list")
def list_cmd(
    status: Annotated[
        ChangeStatus | None, typer.Option("--status", help="Only changes in this status.")
    ] = None,
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """List changes, newest first, each with the status it has now (an open change past its
    expiry is expired, one planned under another manifest stale); --status filters on that."""
    settings = existing_state_settings(manifest, home)
    m = _manifest_if_readable(settings)

    async def listed(storage: Storage) -> list[Change]:
        if status is None:
            return await storage.changes.list_changes()
        # An expired or stale change may still be stored as proposed or approved.
        stored = {status} | (OPEN if status in BECOME else set())
        found = [c for s in stored for c in await storage.changes.list_changes(status=s)]
        found.sort(key=lambda c: c.created_at, reverse=True)
        return [c for c in found if _effective_status(c, m) == status]

    changes = with_storage(settings, listed, reading=True)
    if not changes:
        typer.echo("No changes" + (f" with status {status}." if status else "."))
        return
    console = Console(highlight=False)
    console.print(_changes_view(console, changes, m))


def _changes_view(console: Console, changes: list[Change], m: Manifest | None) -> RenderableType:
    """A table when it fits the terminal, else a paragraph per change: an id is never cut."""
    table = Table(box=None, pad_edge=False)
    for name in ("id", "status", "risk", "requester", "records", "approvals", "expires"):
        table.add_column(name, no_wrap=True)
    table.add_column("reason (untrusted)", overflow="ellipsis", no_wrap=True, max_width=40)
    for c in changes:
        cells = (
            c.id,
            _effective_status(c, m),
            str(c.risk_class),
            c.requester,
            str(c.plan.summary.records),
            f"{len(c.approvals)}/{c.approvals_required.count}",
            c.expires_at.isoformat(timespec="minutes"),
            visible(c.reason, 60),
        )
        # Text, not str: a cell string would be parsed as rich markup.
        table.add_row(*(Text(cell) for cell in cells))

    def stacked(width: int) -> RenderableType:
        items = [
            (
                [c.id, _effective_status(c, m), str(c.risk_class)],
                [
                    f"by {c.requester}",
                    f"{c.plan.summary.records} record(s)",
                    f"approvals {len(c.approvals)}/{c.approvals_required.count}",
                    f"expires {c.expires_at:%Y-%m-%d %H:%M} UTC",
                    f"reason (untrusted): {visible(c.reason, 60)}",
                ],
            )
            for c in changes
        ]
        return paragraphs(items, width)

    return fitted(console, [table], stacked)


def _pii_view(settings: Settings, m: Manifest, reviewer: str | None, key: Path | None) -> PiiView:
    """What ``review show`` may show of people: nothing without a reviewer; with one, their
    manifest PII rights — once their own declared key proves it is them (a typed name would
    let anyone on this host claim the widest rights)."""
    if reviewer is None:
        return "none"
    stranger = unknown_reviewer(m, reviewer)
    if stranger is not None:
        raise fail(stranger.message + (f" ({stranger.hint})" if stranger.hint else ""))
    try:
        private = read_key(key or key_path(reviewer), settings.home, reviewer)
    except KeyFileError as exc:
        raise fail(f"{exc} (people are shown only to a reviewer who holds their key)") from exc
    if ed25519_fingerprint(public_key_text(private)) not in declared_keys(m, reviewer):
        raise fail(
            f"that key is not declared for {reviewer} in {settings.manifest_path}; people are "
            "shown only to a reviewer who holds their own declared key"
        )
    return m.reviewers[reviewer].pii


@review_app.command("show")
def show_cmd(
    change_id: str,
    reviewer: Annotated[
        str | None,
        typer.Option(
            "--reviewer", help="Show people by name, email and company within your PII rights."
        ),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option("--key", help="Your private key (default: your config directory's)."),
    ] = None,
    page: Annotated[int, typer.Option("--page", min=1, help="Which page of records.")] = 1,
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """Show what the change touches by name, the diff, who asked and why, the risk class,
    blocked records and approvals."""
    settings = existing_state_settings(manifest, home)
    m = manifest_or_exit(settings)
    pii = _pii_view(settings, m, reviewer, key)

    async def read(
        storage: Storage,
    ) -> tuple[Change | None, FreezeState | None, ChangeStory | None, Paging]:
        change = await storage.changes.get(change_id)
        paging = page_of(len(change.plan.records) if change else 0, page, PAGE_SIZE)
        if change is None or page > paging.pages:
            return change, None, None, paging
        connectors = registry_for(settings, lambda: m)
        try:
            refs = [r.ref for r in records_on(change, paging)]
            story = await tell_by(connectors.get, change, m, pii, refs)
        finally:
            await connectors.aclose()
        if reviewer is not None and pii != "none":
            await storage.audit.append(
                view_event(
                    tool="review show", reviewer=reviewer, change=change, story=story,
                    page=paging.page, pages=paging.pages, transport="cli",
                )
            )  # fmt: skip
        return change, await storage.freeze.state(), story, paging

    change, state, story, paging = with_storage(settings, read)
    if change is None:
        raise fail(f"there is no change {change_id!r}; see 'mopsgate review list'")
    if story is None:
        raise fail(
            f"{change_id} has {paging.total} record(s), {paging.pages} page(s) of {PAGE_SIZE}; "
            f"there is no page {page}",
            2,
        )
    console = Console(highlight=False, soft_wrap=True)
    console.print(render_story(m, change, story, paging, reviewer))
    console.print(render_rich(change))
    if change.status in {ChangeStatus.PROPOSED, ChangeStatus.APPROVED}:
        console.print(approval_summary(m, change) + ".", markup=False)
    for ended, what in ((change.rejection, "Rejected"), (change.cancellation, "Cancelled")):
        if ended is not None:  # who ended it, not only why (the diff says why, literally)
            at = ended.at.isoformat(timespec="seconds")
            console.print(f"{what} by {ended.by} at {at}.", style="bold", markup=False)
    if _effective_status(change) == "expired":
        console.print(
            "Note: this change has expired; it can no longer be approved.",
            style="bold red",
            markup=False,
        )
    if not digest_matches(change.manifest_digest, m) and change.status in {
        ChangeStatus.PROPOSED,
        ChangeStatus.APPROVED,
    }:
        console.print(
            "Note: the manifest changed since this plan was made; it is stale.",
            style="bold red",
            markup=False,
        )
    if state is not None:
        console.print(
            f"Applies are frozen: {state.reason} (by {state.by})", style="bold red", markup=False
        )


def freeze_cmd(
    reason: Annotated[str, typer.Option("--reason", help="Why applies are frozen.")] = "",
    by: Annotated[
        str | None, typer.Option("--by", help="Who is freezing (default: OS user).")
    ] = None,
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """Stop all applies now, in every running server (the kill switch)."""
    settings = existing_state_settings(manifest, home, "; nothing was frozen")
    who = by or getpass.getuser()

    async def session(storage: Storage) -> tuple[FreezeState | None, FreezeState]:
        before = await storage.freeze.state()
        wanted = freezing(before, reason, who, datetime.now(UTC))
        why = wanted.reason
        state = await storage.freeze.freeze(why, wanted.by, at=wanted.at)
        await _audit(
            storage,
            kind="freeze",
            principal=who,
            tool="freeze",
            decision="allowed",
            outcome="ok",
            reason=why or None,
            result_summary="applies frozen" if before is None else "applies were already frozen",
        )
        return before, state

    before, state = with_storage(settings, session)
    if before is not None:
        typer.echo(
            f"Applies were already frozen (since {before.at.isoformat(timespec='seconds')} by "
            f"{before.by}: {before.reason or 'no reason given'}); they stay frozen"
            + (f", now for: {state.reason}." if state.reason != before.reason else ".")
        )
    else:
        typer.echo(f"Applies are frozen as of {state.at.isoformat(timespec='seconds')}.")
    typer.echo("Proposals and reviews still work; run 'mopsgate unfreeze' to resume.")


def unfreeze_cmd(
    by: Annotated[
        str | None, typer.Option("--by", help="Who is unfreezing (default: OS user).")
    ] = None,
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """Let applies run again."""
    settings = existing_state_settings(manifest, home, "; nothing was unfrozen")
    who = by or getpass.getuser()

    async def session(storage: Storage) -> str:
        previous = await storage.freeze.unfreeze(who)
        summary = "applies resumed" if previous else "applies were not frozen"
        await _audit(
            storage,
            kind="freeze",
            principal=who,
            tool="unfreeze",
            decision="allowed",
            outcome="ok",
            reason=previous.reason if previous else None,
            result_summary=summary,
        )
        return summary

    summary = with_storage(settings, session)
    typer.echo(summary[0].upper() + summary[1:] + ".")
