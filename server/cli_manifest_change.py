"""`mopsgate manifest propose|approve`: the change process for a manifest edit that widens
permissions (catalogue M-17).

An edit that only narrows takes effect at the server's next call, as any edit always did. One
that widens (``governance/manifest_widening``) stays out of force until reviewers of the
manifest in force have signed an approval of exactly that change, old digest -> new digest:
``propose`` records the new text and says what it widens; ``approve`` shows the same, signs
with the reviewer's own key (as `review approve` does) and writes the approval into the audit
log, where the server finds it. The version in force is the one the server last put in force
(the manifest history); before the server has ever run, the manifest file itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.change_model import utcnow
from mopsgate.governance.errors import ManifestError
from mopsgate.governance.manifest_approval import (
    TOOL,
    ApprovalTally,
    approval_event,
    approval_problem,
    new_statement,
    required_approvals,
    sign_approval,
    tally,
)
from mopsgate.governance.manifest_diff import manifest_changes
from mopsgate.governance.manifest_history import ManifestLoad
from mopsgate.governance.manifest_load import load_manifest_text, manifest_digest
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.manifest_widening import widenings
from mopsgate.server.catalogue import build_catalogue
from mopsgate.server.cli_review import (
    HomeOpt,
    ManifestOpt,
    fail,
    review_settings,
    unknown_reviewer,
    with_storage,
)
from mopsgate.server.manifest_gate import stored_approvals
from mopsgate.server.manifest_provenance import manifest_load
from mopsgate.server.reviewer_files import KeyFileError, key_path, read_key
from mopsgate.server.settings import Settings
from mopsgate.storage import Storage


@dataclass(frozen=True)
class Version:
    digest: str
    text: str
    manifest: Manifest


def _version(text: str, source: str) -> Version:
    try:
        manifest = load_manifest_text(text, source, build_catalogue())
    except ManifestError as exc:
        shown = "; ".join(str(p) for p in exc.problems[:3]) or exc.message
        raise fail(f"{source} is not a valid manifest: {shown}", 2) from exc
    return Version(manifest_digest(manifest), text, manifest)


def _read(path: Path) -> Version:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"cannot read {path}: {exc}", 2) from exc
    return _version(text, str(path))


async def _in_force(storage: Storage, settings: Settings) -> Version:
    """The version the server last put in force; the manifest file when it never ran."""
    loads = await storage.manifests.versions()
    last = next((v for v in reversed(loads) if v.outcome == "in_force"), None)
    text = await storage.manifests.text(last.digest) if last is not None else None
    if last is None or text is None:
        return _read(settings.manifest_path)
    return _version(text, f"the manifest in force ({last.digest[:12]})")


def _show(old: Version, new: Version, widens: list[str], required: int) -> None:
    typer.echo(f"Manifest change {old.digest[:12]} -> {new.digest[:12]}")
    for line in manifest_changes(old.text, new.text):
        typer.echo(f"  {line}")
    if not widens:
        typer.echo("It widens nothing: it applies at once, no approval needed.")
        return
    typer.echo(f"It widens permissions, so it needs {required} reviewer approval(s):")
    for line in widens:
        typer.echo(f"  widens: {line}")


def propose_cmd(
    path: Annotated[
        Path | None,
        typer.Argument(help="The edited manifest (default: the manifest file itself)."),
    ] = None,
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """Record an edited manifest for approval and say what it widens."""
    settings = review_settings(manifest, home)
    new = _read(path or settings.manifest_path)

    async def work(storage: Storage) -> tuple[Version, list[str], int]:
        old = await _in_force(storage, settings)
        widens = widenings(old.manifest, new.manifest) if old.digest != new.digest else []
        if widens:
            reason = f"proposed, awaits approval: widens {'; '.join(widens)}"[:2000]
            await storage.manifests.record(_proposal(settings, new, reason), new.text)
            await storage.audit.append(_propose_event(old, new, widens))
        return old, widens, required_approvals(old.manifest, new.manifest)

    old, widens, required = with_storage(settings, work)
    if old.digest == new.digest:
        typer.echo(f"{new.digest[:12]} is the manifest in force already.")
        return
    _show(old, new, widens, required)
    if widens:
        typer.echo(
            f"Recorded. A reviewer approves it with `mopsgate manifest approve "
            f"{new.digest[:12]} --reviewer NAME`; then put the file in place (the server "
            "applies it once approved)."
        )


def _proposal(settings: Settings, new: Version, reason: str) -> ManifestLoad:
    # Not in force: the history's "refused" (kept, not applied), with why.
    return manifest_load(settings.manifest_path, new.digest, "refused", reason)


def _propose_event(old: Version, new: Version, widens: list[str]) -> AuditEvent:
    return AuditEvent(
        kind="review",
        transport="cli",
        tool="manifest propose",
        arguments={"old_digest": old.digest, "new_digest": new.digest, "widens": widens[:50]},
        manifest_digest=old.digest,
        reason="; ".join(manifest_changes(old.text, new.text))[:2000],
        result_summary=f"{old.digest[:12]} -> {new.digest[:12]}",
    )


async def _find(storage: Storage, digest: str, path: Path | None) -> Version:
    """The proposed version: the file given (its digest must match), or the history's text."""
    if path is not None:
        found = _read(path)
        if not found.digest.startswith(digest):
            raise fail(f"{path} has digest {found.digest[:12]}, not {digest}")
        return found
    digests = sorted(
        {v.digest for v in await storage.manifests.versions() if v.digest.startswith(digest)}
    )
    if len(digests) != 1:
        what = "no recorded manifest" if not digests else f"{len(digests)} recorded manifests"
        raise fail(
            f"{what} with digest {digest}; propose it first (`mopsgate manifest propose FILE`) "
            "or name the file with --file"
        )
    text = await storage.manifests.text(digests[0])
    if text is None:
        raise fail(f"the text of {digests[0][:12]} is not recorded; name the file with --file")
    return _version(text, f"manifest {digests[0][:12]}")


def approve_cmd(
    digest: Annotated[str, typer.Argument(help="The proposed manifest's digest (12+ chars).")],
    reviewer: Annotated[str, typer.Option("--reviewer", help="The approving reviewer (you).")],
    key: Annotated[
        Path | None,
        typer.Option("--key", help="Your private key (default: the one `reviewer keygen` wrote)."),
    ] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="The proposed manifest, if not recorded.")
    ] = None,
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """Approve a widening manifest change, signed with your reviewer key."""
    settings = review_settings(manifest, home)
    if len(digest) < 12:
        raise fail("give at least 12 characters of the digest")

    async def work(storage: Storage) -> tuple[Version, Version, list[str], ApprovalTally | str]:
        old = await _in_force(storage, settings)
        stranger = unknown_reviewer(old.manifest, reviewer)
        if stranger is not None:  # checked first: a stranger learns nothing about edits
            refused = _refused_event(reviewer, old, digest, stranger.message, stranger.rule_id)
            await storage.audit.append(refused)
            raise fail(f"not approved: {stranger.message} (in the manifest in force)")
        new = await _find(storage, digest.lower(), file)
        if new.digest == old.digest:
            return old, new, [], "in force"
        widens = widenings(old.manifest, new.manifest)
        if not widens:
            return old, new, widens, "narrows"
        now = utcnow()
        statement = new_statement(old.digest, new.digest, reviewer, now)
        try:
            private = read_key(key or key_path(reviewer), settings.home, reviewer)
        except KeyFileError as exc:
            problem: str | None = f"no usable signing key: {exc}"
        else:
            signed = sign_approval(statement, private)
            problem = approval_problem(old.manifest, old.digest, new.digest, signed, now)
        if problem is not None:
            await storage.audit.append(_refused_event(reviewer, old, new.digest, problem))
            return old, new, widens, problem
        await storage.audit.append(approval_event(signed, widens))
        approvals = await stored_approvals(storage.audit_reader)
        return old, new, widens, tally(old.manifest, new.manifest, old.digest, new.digest,
                                       approvals, now)  # fmt: skip

    old, new, widens, result = with_storage(settings, work)
    if result == "in force":
        typer.echo(f"{new.digest[:12]} is the manifest in force already; nothing to approve.")
        return
    if isinstance(result, str) and result != "narrows":
        raise fail(f"not approved: {result}")
    required = result.required if isinstance(result, ApprovalTally) else 1
    _show(old, new, widens, required)
    if isinstance(result, ApprovalTally):
        more = result.required - len(result.approvers)
        then = (
            "it takes effect at the server's next check once the file is in place"
            if more <= 0
            else f"{more} more reviewer(s) must approve it"
        )
        typer.echo(f"Approved by {reviewer}: {result.describe()}; {then}.")


def _refused_event(
    reviewer: str, old: Version, new_digest: str, problem: str, rule_id: str | None = None
) -> AuditEvent:
    return AuditEvent(
        kind="review",
        principal=reviewer,
        transport="cli",
        tool=TOOL,
        arguments={"old_digest": old.digest, "new_digest": new_digest},
        decision="denied",
        outcome="denied",
        error_code="not_permitted",
        rule_id=rule_id,
        reason=problem[:2000],
        manifest_digest=old.digest,
        result_summary=f"{old.digest[:12]} -> {new_digest[:12]}",
    )
