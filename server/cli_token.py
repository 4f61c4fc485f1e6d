"""``mopsgate token``: bearer tokens for HTTP clients. A token is shown once, stored only as a
hash, bound to one principal; creating and revoking are both audited."""

from __future__ import annotations

from typing import Annotated

import typer

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.bearer import create_token, revoke_principal_tokens
from mopsgate.governance.errors import ManifestError
from mopsgate.governance.manifest_load import load_manifest
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.cli_async import run
from mopsgate.server.settings import Settings, ensure_home, load_settings
from mopsgate.storage import append_once

token_app = typer.Typer(no_args_is_help=True, help="Bearer tokens for HTTP clients.")

ManifestOpt = Annotated[str | None, typer.Option("--manifest", help="Path to permissions.toml.")]
HomeOpt = Annotated[str | None, typer.Option("--home", help="State directory.")]


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"mopsgate: {message}", err=True)
    return typer.Exit(code)


def _audit(settings: Settings, principal: str, action: str, summary: str) -> None:
    event = AuditEvent(
        kind="token",
        principal=principal,
        transport="cli",
        tool=f"token {action}",
        decision="n/a",
        outcome="ok",
        result_summary=summary,
    )
    run(append_once(settings.storage(), event))


@token_app.command("create")
def token_create(
    principal: Annotated[str, typer.Option(help="principal the token acts as")],
    label: Annotated[str, typer.Option(help="a note for whoever reads the audit")] = "",
    ttl_days: Annotated[int | None, typer.Option(help="expire after N days")] = None,
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """Create a bearer token for PRINCIPAL; it is printed once and stored only as a hash."""
    settings = load_settings(manifest, home)
    try:
        known = load_manifest(settings.manifest_path, build_catalogue()).principals
    except ManifestError as exc:
        raise _fail(f"{settings.manifest_path} is not a valid manifest: {exc.message}", 2) from exc
    if principal not in known:
        raise _fail(
            f"unknown principal {principal!r}; principals in the manifest: "
            f"{', '.join(sorted(known))}",
            1,
        )
    ensure_home(settings)
    token = create_token(settings.db_path, principal, label=label, ttl_days=ttl_days)
    _audit(settings, principal, "create", f"token created ({label or 'no label'})")
    typer.echo(token)


@token_app.command("revoke")
def token_revoke(
    principal: Annotated[str, typer.Option(help="revoke every token of this principal")],
    home: HomeOpt = None,
) -> None:
    """Revoke every bearer token of PRINCIPAL at once (e.g. a leaked token); audited."""
    settings = load_settings(None, home)
    ensure_home(settings)
    count = revoke_principal_tokens(settings.db_path, principal)
    _audit(settings, principal, "revoke", f"{count} token(s) revoked")
    typer.echo(f"revoked {count} token(s) of {principal}")
