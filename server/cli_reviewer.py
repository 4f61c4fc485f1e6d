"""``mopsgate reviewer``: enrol reviewers' credentials.

A reviewer proves a decision with a credential the manifest declares: an Ed25519 key for the CLI
(``keygen``), a passkey for the console (``invite``). Making a key is the reviewer's act;
declaring it in the manifest is the manifest owner's, reviewed like any policy change. Both
commands are audited.
"""

from __future__ import annotations

import getpass
import shutil
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.errors import ManifestError
from mopsgate.governance.manifest_load import load_manifest
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.public_keys import ed25519_fingerprint
from mopsgate.governance.reviewer_invites import Invite, new_invite
from mopsgate.governance.reviewer_keys import new_private_key, public_key_text
from mopsgate.governance.reviewer_proof import declared_keys
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.cli_async import run
from mopsgate.server.manifest_edit import ManifestEditRefused, declare_in_sandbox
from mopsgate.server.manifest_problem import unusable_manifest
from mopsgate.server.reviewer_files import KeyFileError, key_path, read_key, write_new_key
from mopsgate.server.settings import Settings, console_url, ensure_home, load_settings
from mopsgate.storage import append_once, open_storage

reviewer_app = typer.Typer(
    no_args_is_help=True,
    help="Reviewers' credentials: a signing key for the CLI, a passkey for the console.",
)
ReviewerOpt = Annotated[
    str, typer.Option("--reviewer", help="The reviewer's name in the manifest.")
]
ManifestOpt = Annotated[str | None, typer.Option("--manifest", help="Path to permissions.toml.")]
HomeOpt = Annotated[str | None, typer.Option("--home", help="State directory.")]


def mopsgate_command(cwd: Path | None = None, path: str | None = None) -> str:
    """How the user runs this mopsgate from where they are: ``mopsgate`` when that name on
    their PATH is this one, the virtualenv's script relative to the current folder when it is
    below it (``.venv/bin/mopsgate`` in a checkout), else its absolute path."""
    script = Path(sys.executable).parent / "mopsgate"
    found = shutil.which("mopsgate", path=path)
    if found is not None and Path(found).resolve() == script.resolve():
        return "mopsgate"
    here = (cwd or Path.cwd()).resolve()
    if script.resolve().is_relative_to(here):
        return str(script.resolve().relative_to(here))
    return str(script)


def _fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"mopsgate: {message}", err=True)
    return typer.Exit(code)


def _audit(settings: Settings, reviewer: str, action: str, summary: str, **args: str) -> None:
    event = AuditEvent(
        kind="enrolment",
        principal=getpass.getuser(),
        transport="cli",
        tool=f"reviewer {action}",
        arguments={"reviewer": reviewer, **args},
        decision="n/a",
        outcome="ok",
        result_summary=summary,
    )
    run(append_once(settings.storage(), event))


def key_table(reviewer: str, public_key: str, label: str) -> str:
    """What the manifest owner pastes into permissions.toml (anywhere after the reviewer)."""
    return f'[[reviewers.{reviewer}.keys]]\npublic_key = "{public_key}"\nlabel = "{label}"\n'


@reviewer_app.command("keygen")
def keygen(reviewer: ReviewerOpt, manifest: ManifestOpt = None, home: HomeOpt = None) -> None:
    """Make REVIEWER's signing key in your own config directory; print the public key to
    declare in the manifest."""
    settings = load_settings(manifest, home)
    ensure_home(settings)
    path = key_path(reviewer)
    key = new_private_key()
    try:
        write_new_key(path, key, settings.home)
    except KeyFileError as exc:
        raise _fail(str(exc)) from exc
    public = public_key_text(key)
    label = f"{getpass.getuser()}@{socket.gethostname()} {datetime.now(UTC):%Y-%m-%d}"
    _audit(
        settings,
        reviewer,
        "keygen",
        "signing key made; not yet declared",
        key_fingerprint=ed25519_fingerprint(public),
    )
    typer.echo(f"Wrote {reviewer}'s private key to {path} (mode 0600). Keep it to yourself.")
    typer.echo("Declare its public half in permissions.toml (the manifest owner does this):\n")
    typer.echo(key_table(reviewer, public, label))
    _warn_unknown(settings, reviewer)


def _warn_unknown(settings: Settings, reviewer: str) -> None:
    try:
        known = load_manifest(settings.manifest_path, build_catalogue()).reviewers
    except ManifestError:
        return
    if reviewer not in known:
        typer.echo(
            f"Note: {settings.manifest_path} has no [reviewers.{reviewer}] yet; the manifest "
            "owner adds it together with the key.",
            err=True,
        )


def _manifest_or_fail(settings: Settings) -> Manifest:
    try:
        return load_manifest(settings.manifest_path, build_catalogue())
    except ManifestError as exc:
        raise _fail(unusable_manifest(settings.manifest_path, exc), 2) from exc


def _require_reviewer(m: Manifest, settings: Settings, reviewer: str) -> None:
    if reviewer not in m.reviewers:
        known = ", ".join(sorted(m.reviewers)) or "none"
        raise _fail(
            f"{reviewer!r} is not a reviewer in {settings.manifest_path} (reviewers: {known}); "
            f"the manifest owner adds [reviewers.{reviewer}] first"
        )


async def _invite(settings: Settings, reviewer: str, declare: bool) -> tuple[str, Invite]:
    token, invite = new_invite(reviewer, getpass.getuser(), datetime.now(UTC), declare=declare)
    storage = await open_storage(settings.storage())
    try:
        await storage.invites.create(invite)
        await storage.audit.append(
            AuditEvent(
                kind="enrolment",
                principal=getpass.getuser(),
                transport="cli",
                tool="reviewer invite",
                arguments={"reviewer": reviewer, "declare": declare},
                decision="n/a",
                outcome="ok",
                result_summary=f"passkey invite for {reviewer}, single use, expires "
                f"{invite.expires_at.isoformat(timespec='minutes')}",
            )
        )
    finally:
        await storage.close()
    return token, invite


def _until(invite: Invite) -> str:
    return invite.expires_at.isoformat(timespec="minutes")


@reviewer_app.command("invite")
def invite(reviewer: ReviewerOpt, manifest: ManifestOpt = None, home: HomeOpt = None) -> None:
    """Make a one-time link (24 h) for REVIEWER to enrol a passkey in the review console."""
    settings = load_settings(manifest, home)
    ensure_home(settings)
    _require_reviewer(_manifest_or_fail(settings), settings, reviewer)
    token, made = run(_invite(settings, reviewer, declare=False))
    typer.echo(f"Send this link to {reviewer} only; it works once, until {_until(made)}:\n")
    typer.echo(f"  {console_url()}/enrol/{token}\n")
    typer.echo(
        "The review console must be running (`mopsgate console`). Enrolling shows the "
        f"[[reviewers.{reviewer}.passkeys]] table to declare in the manifest."
    )


def _declare_key(settings: Settings, m: Manifest, reviewer: str) -> tuple[str, bool, bool]:
    """Make the reviewer's key if there is none, and declare it in the sandbox manifest if it
    is not declared yet: (fingerprint, key made now, manifest changed now)."""
    path = key_path(reviewer)
    made = not path.exists()
    if made:
        write_new_key(path, new_private_key(), settings.home)
    public = public_key_text(read_key(path, settings.home, reviewer))
    fingerprint = ed25519_fingerprint(public)
    declaring = fingerprint not in declared_keys(m, reviewer)
    if declaring:
        table = key_table(reviewer, public, f"{getpass.getuser()}@{socket.gethostname()} sandbox")
        declare_in_sandbox(settings.manifest_path, table, build_catalogue())
    return fingerprint, made, declaring


@reviewer_app.command("enrol")
def enrol(reviewer: ReviewerOpt, manifest: ManifestOpt = None, home: HomeOpt = None) -> None:
    """Sandbox first run, in one step: make REVIEWER's signing key, declare it, and print a
    passkey link for the console that declares the passkey too (sandbox manifests only)."""
    settings = load_settings(manifest, home)
    ensure_home(settings)
    m = _manifest_or_fail(settings)
    _require_reviewer(m, settings, reviewer)
    try:
        fingerprint, made, declaring = _declare_key(settings, m, reviewer)
    except (KeyFileError, ManifestEditRefused) as exc:
        raise _fail(f"{exc}; use `mopsgate reviewer keygen` and `reviewer invite`") from exc
    _audit(
        settings, reviewer, "enrol", "signing key declared (sandbox)", key_fingerprint=fingerprint
    )
    token, link = run(_invite(settings, reviewer, declare=True))
    path = key_path(reviewer)
    typer.echo(f"{reviewer} is enrolled on this sandbox.")
    typer.echo(f"  signing key: {path}{' (new)' if made else ''}, declared in the manifest")
    me = mopsgate_command()
    typer.echo(f"  approve in the CLI: {me} review approve ID --reviewer {reviewer}")
    typer.echo(
        f"  a passkey for the console (start it: {me} console), one use, until {_until(link)}:"
    )
    typer.echo(f"    {console_url()}/enrol/{token}")
    if declaring:
        typer.echo("The manifest changed: changes proposed before now are stale; propose again.")
