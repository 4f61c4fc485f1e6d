"""``mopsgate token``: bearer tokens for HTTP clients. A token is shown once, stored only as a
hash, bound to one principal; creating and revoking are both audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.errors import ManifestError
from mopsgate.governance.manifest_load import load_manifest
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.cli_async import run
from mopsgate.server.manifest_problem import unusable_manifest
from mopsgate.server.settings import ensure_home, load_settings
from mopsgate.storage import Storage, StorageConfig, open_storage

token_app = typer.Typer(no_args_is_help=True, help="Bearer tokens for HTTP clients.")

ManifestOpt = Annotated[str | None, typer.Option("--manifest", help="Path to permissions.toml.")]
HomeOpt = Annotated[str | None, typer.Option("--home", help="State directory.")]


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"mopsgate: {message}", err=True)
    return typer.Exit(code)


async def _audit(storage: Storage, principal: str, action: str, summary: str) -> None:
    await storage.audit.append(
        AuditEvent(
            kind="token",
            principal=principal,
            transport="cli",
            tool=f"token {action}",
            decision="n/a",
            outcome="ok",
            result_summary=summary,
        )
    )


async def create_token(cfg: StorageConfig, principal: str, label: str, ttl_days: int | None) -> str:
    storage = await open_storage(cfg)
    try:
        now = datetime.now(UTC)
        expires = now + timedelta(days=ttl_days) if ttl_days else None
        issued = await storage.tokens.create(principal, label=label, expires_at=expires, now=now)
        await _audit(storage, principal, "create", f"token created ({label or 'no label'})")
    finally:
        await storage.close()
    return issued.token


async def revoke_tokens(cfg: StorageConfig, principal: str) -> int:
    storage = await open_storage(cfg)
    try:
        count = await storage.tokens.revoke_principal(principal)
        await _audit(storage, principal, "revoke", f"{count} token(s) revoked")
    finally:
        await storage.close()
    return count


@token_app.command("create")
def token_create(
    principal: Annotated[str, typer.Option(help="principal the token acts as")],
    label: Annotated[str, typer.Option(help="a note for whoever reads the audit")] = "",
    # 0 used to mean "never" and a negative count a token born expired: at least a day.
    ttl_days: Annotated[
        int | None, typer.Option(min=1, help="expire after N days (default: never)")
    ] = None,
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """Create a bearer token for PRINCIPAL; it is printed once and stored only as a hash."""
    settings = load_settings(manifest, home)
    try:
        known = load_manifest(settings.manifest_path, build_catalogue()).principals
    except ManifestError as exc:
        raise _fail(unusable_manifest(settings.manifest_path, exc), 2) from exc
    if principal not in known:
        raise _fail(
            f"unknown principal {principal!r}; principals in the manifest: "
            f"{', '.join(sorted(known))}",
            1,
        )
    ensure_home(settings)
    token = run(create_token(settings.storage(), principal, label, ttl_days))
    typer.echo(token)


@token_app.command("revoke")
def token_revoke(
    principal: Annotated[str, typer.Option(help="revoke every token of this principal")],
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """Revoke every bearer token of PRINCIPAL at once (e.g. a leaked token); audited."""
    settings = load_settings(manifest, home)
    ensure_home(settings)
    count = run(revoke_tokens(settings.storage(), principal))
    known = _principals(settings.manifest_path) if count == 0 else None
    if known is not None and principal not in known:  # a typo must not read as done
        raise _fail(
            f"no tokens of {principal!r} to revoke, and it is not a principal in "
            f"{settings.manifest_path} (principals: {', '.join(sorted(known))}); "
            "check the name",
            1,
        )
    typer.echo(f"revoked {count} token(s) of {principal}")


def _principals(path: Path) -> set[str] | None:
    """The manifest's principals; None when it cannot be read (a revocation never needs it)."""
    try:
        return set(load_manifest(path, build_catalogue()).principals)
    except ManifestError:
        return None
