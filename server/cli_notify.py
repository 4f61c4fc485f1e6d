"""`mopsgate notify test|send`: check the webhook targets of ``[notifications]``, and send what
the outbox holds from a process that is not a server.

``notify test`` posts a test notification to each target directly (not through the outbox),
so the admin sees at once, per target, whether the URL is set, reachable and accepting; it
exits 1 if any target failed. ``notify send`` runs the server's sender until nothing is due, for
deployments where reviewers decide from the CLI while no server runs.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from mopsgate.connectors.webhook import WebhookSender
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.notify_events import probe_notification
from mopsgate.governance.notify_render import body_for
from mopsgate.server.cli_async import run
from mopsgate.server.cli_review import HomeOpt, ManifestOpt, fail, manifest_or_exit, with_storage
from mopsgate.server.notifier import Notifier, resolve_url
from mopsgate.server.settings import console_url, ensure_home, load_settings
from mopsgate.storage import Storage

notify_app = typer.Typer(
    no_args_is_help=True,
    help="Webhook notifications: test the targets, send what is queued.",
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
