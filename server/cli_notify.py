"""`mopsgate notify test|send`: check the webhook targets of ``[notifications]``, and send what
the outbox holds from a process that is not a server.

``notify test`` posts a test notification to each target directly (not through the outbox),
so the admin sees at once, per target, whether the URL is set, reachable and accepting; it
exits 1 if any target failed. ``notify send`` runs the server's sender until nothing is due, for
deployments where reviewers decide from the CLI while no server runs. ``notify list`` shows
what waits (pending, and parked after ``give_up_after_hours``) without any payload, and
``notify requeue`` makes parked messages due again, as an audited act.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from mopsgate.connectors.webhook import WebhookSender
from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.diff_lines import visible
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.notify_events import probe_notification
from mopsgate.governance.notify_render import body_for
from mopsgate.server.cli_async import run
from mopsgate.server.cli_render import fitted, paragraphs, prose
from mopsgate.server.cli_review import (
    HomeOpt,
    ManifestOpt,
    existing_state_settings,
    fail,
    manifest_or_exit,
    review_settings,
    with_storage,
)
from mopsgate.server.notifier import Notifier, resolve_url
from mopsgate.server.settings import console_url, ensure_home, load_settings
from mopsgate.storage import Storage

notify_app = typer.Typer(
    no_args_is_help=True,
    help="Webhook notifications: test the targets, send, list and requeue what is queued.",
)
# Tests inject an httpx transport here (the CLI runs in-process in tests).
SENDER_OPTIONS: dict[str, Any] = {}


async def _test_targets(m: Manifest, only: str | None) -> list[tuple[str, str, bool]]:
    sender = WebhookSender(**SENDER_OPTIONS)
    note = probe_notification(datetime.now(UTC), secrets.token_hex(8))
    targets = sorted(m.notifications.targets.items())

    async def one(name: str, target: Any) -> tuple[str, str, bool]:
        url = resolve_url(target, os.environ)
        label = f"{name} ({target.format})"
        if url is None:
            return label, f"not sent: {target.url_env} is not set (put the URL in .env)", False
        result = await sender.post(
            url, body_for(target.format, note), idempotency_key=note.key, event=note.event
        )
        verdict = "delivered" if result.ok else "FAILED"
        return label, f"{verdict}: {result.detail} in {result.elapsed_ms:.0f} ms", result.ok

    try:
        return list(await asyncio.gather(*(one(n, t) for n, t in targets if only in (None, n))))
    finally:
        await sender.aclose()


@notify_app.command("test")
def probe_cmd(
    target: Annotated[
        str | None, typer.Option("--target", help="Only this target (default: every one).")
    ] = None,
    manifest: ManifestOpt = None,
) -> None:
    """Send a test notification to each webhook target and say, per target, what happened."""
    settings = load_settings(manifest, None)
    m = manifest_or_exit(settings)
    if not m.notifications.targets:
        raise fail(
            f"{settings.manifest_path} has no [notifications.targets.*]; add one "
            "(see the README, 'Notifications') and run this again"
        )
    if target is not None and target not in m.notifications.targets:
        known = ", ".join(sorted(m.notifications.targets))
        raise fail(f"no notification target {target!r} (targets: {known})")
    results = run(_test_targets(m, target))
    for label, line, _ in results:
        typer.echo(f"{label}: {line}")
    if not all(ok for _, _, ok in results):
        raise typer.Exit(1)


@notify_app.command("send")
def send_cmd(manifest: ManifestOpt = None, home: HomeOpt = None) -> None:
    """Send what the outbox holds now (a running server does this by itself)."""
    settings = load_settings(manifest, home)
    ensure_home(settings)
    m = manifest_or_exit(settings)

    async def session(storage: Storage) -> int:
        async def current() -> Manifest:
            return m

        notifier = Notifier(
            outbox=storage.outbox,
            changes=storage.changes,
            manifest=current,
            env=os.environ,
            console_url=console_url(),
            sender=WebhookSender(**SENDER_OPTIONS),
        )
        handled = 0
        try:
            while busy := await notifier.run_once():
                handled += busy
        finally:
            await notifier.sender.aclose()
        return handled

    handled = with_storage(settings, session)
    typer.echo(f"Handled {handled} queued message(s); failed deliveries are due again later.")


LIST_LIMIT = 1000


def _when(at: datetime) -> str:
    return at.isoformat(timespec="minutes")


@notify_app.command("list")
def list_cmd(
    parked: Annotated[bool, typer.Option("--parked", help="Only the parked messages.")] = False,
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """Show the messages not yet sent: pending (due again later) and parked (given up on),
    with their last error. Topics, keys and targets only: never a payload."""
    settings = existing_state_settings(manifest, home)
    waiting = with_storage(settings, lambda s: s.outbox.unsent(limit=LIST_LIMIT))
    shown = [m for m in waiting if m.parked or not parked]
    if not shown:
        typer.echo("No parked messages." if parked else "Nothing waits: every message was sent.")
        return
    rows = [
        (
            str(m.id),
            "parked" if m.parked else "pending",
            m.topic,
            m.target or "-",
            str(m.attempts),
            _when(m.enqueued_at),
            "-" if m.parked else _when(m.due_at),
            visible(m.last_error or "", 200, quote=False),
        )
        for m in shown
    ]
    table = Table(box=None, pad_edge=False)
    for name in ("id", "state", "topic", "target", "attempts", "queued", "due"):
        table.add_column(name, no_wrap=True)
    table.add_column("last error", overflow="fold", max_width=60)
    for row in rows:
        table.add_row(*(Text(cell) for cell in row))  # Text: a value is never rich markup

    def stacked(width: int) -> RenderableType:
        """A message per paragraph (the table was drawn 200 wide whatever the terminal)."""
        parts: list[RenderableType] = []
        for id_, state, topic, target, attempts, queued, due, error in rows:
            when = [f"queued {queued}"] + ([f"due {due}"] if due != "-" else [])
            rest = [f"to {target}", f"{attempts} attempt(s)", *when]
            parts.append(paragraphs([([id_, state, topic], rest)], width))
            if error:
                parts.append(prose(f"last error: {error}", width))
        return Group(*parts)

    console = Console(highlight=False)
    console.print(fitted(console, [table], stacked))
    count = sum(m.parked for m in waiting)
    typer.echo(
        f"{len(waiting) - count} pending, {count} parked."
        + (
            " Try parked ones again: mopsgate notify requeue --all-parked (or an id)."
            if count
            else ""
        )
    )


@notify_app.command("requeue")
def requeue_cmd(
    ids: Annotated[
        list[int] | None, typer.Argument(help="The ids to send again (see 'notify list').")
    ] = None,
    all_parked: Annotated[bool, typer.Option("--all-parked", help="Every parked message.")] = False,
    by: Annotated[
        str | None, typer.Option("--by", help="Who is requeuing (default: OS user).")
    ] = None,
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """Make messages due now, with a fresh give-up window; the sender (a running server, or
    'mopsgate notify send') delivers them. Audited, like every operator act."""
    settings = review_settings(manifest, home)
    who = by or getpass.getuser()
    wanted = sorted(set(ids or ()))
    problem = None
    if bool(wanted) == all_parked:
        problem = "name the message ids to requeue, or pass --all-parked (not both)"

    async def session(storage: Storage) -> list[int]:
        done = (
            []
            if problem
            else await storage.outbox.requeue(None if all_parked else wanted, now=datetime.now(UTC))
        )
        missing = [i for i in wanted if i not in done]
        await storage.audit.append(
            AuditEvent(
                kind="notification",
                transport="cli",
                principal=who,
                tool="notify requeue",
                arguments={"ids": wanted, "all_parked": all_parked},
                decision="allowed" if not problem else "denied",
                outcome="refused" if problem or missing else "ok",
                reason=problem or (f"not waiting: {_ids(missing)}" if missing else None),
                result_summary=f"requeued {len(done)} message(s)"
                + (f": {_ids(done)}" if done else ""),
            )
        )
        return done

    done = with_storage(settings, session)
    if problem:
        raise fail(problem, 2)
    missing = [i for i in wanted if i not in done]
    if done:
        typer.echo(f"Requeued {len(done)} message(s) ({_ids(done)}); they are due now.")
    elif all_parked:
        typer.echo("No parked messages to requeue.")
    if missing:
        raise fail(
            f"no unsent message {_ids(missing)} waits to be sent (already sent, being sent "
            "now, or no such id); see 'mopsgate notify list'"
        )


def _ids(ids: list[int]) -> str:
    return ", ".join(map(str, ids))
