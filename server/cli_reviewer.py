"""``mopsgate reviewer``: enrol reviewers' credentials.

A reviewer proves a decision with a credential the manifest declares: an Ed25519 key for the CLI
(``keygen``), a passkey for the console (``invite``). Making a key is the reviewer's act;
declaring it in the manifest is the manifest owner's, reviewed like any policy change. Both
commands are audited.
"""

from __future__ import annotations

import getpass
import socket
from datetime import UTC, datetime
from typing import Annotated

import typer

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.errors import ManifestError
from mopsgate.governance.manifest_load import load_manifest
from mopsgate.governance.public_keys import ed25519_fingerprint
from mopsgate.governance.reviewer_keys import new_private_key, public_key_text
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.cli_async import run
from mopsgate.server.reviewer_files import KeyFileError, key_path, write_new_key
from mopsgate.server.settings import Settings, ensure_home, load_settings
from mopsgate.storage import append_once

reviewer_app = typer.Typer(
    no_args_is_help=True,
    help="Reviewers' credentials: a signing key for the CLI, a passkey for the console.",
)
ReviewerOpt = Annotated[
    str, typer.Option("--reviewer", help="The reviewer's name in the manifest.")
]
ManifestOpt = Annotated[str | None, typer.Option("--manifest", help="Path to permissions.toml.")]
HomeOpt = Annotated[str | None, typer.Option("--home", help="State directory.")]


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
