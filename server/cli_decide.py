"""`mopsgate review approve|reject|sign|submit`: decisions signed with the reviewer's own key.

``approve`` and ``reject`` build the decision statement (this change, its plan digest, the
manifest in force, the note or reason, the checklist answers, the time), sign it with the
reviewer's Ed25519 key from their own config directory (or ``--key``), and record it through
the same governance functions the console uses. ``sign`` only prints the signed decision (JSON),
and ``submit`` records one made elsewhere — so a reviewer whose key lives on another machine
than the server never copies the key. There is no way to decide without a signature: a typed
``--reviewer`` name alone is refused. Every decision and every refusal is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from mopsgate.governance.approvals import approval_summary, check_reviewer
from mopsgate.governance.change_model import Change, ChangeStatus, utcnow
from mopsgate.governance.deciding import record, refuse
from mopsgate.governance.decision_proof import SignedDecision
from mopsgate.governance.decision_statement import Verdict, new_statement
from mopsgate.governance.errors import AuditUnavailable, GovernanceError, InvalidInput, NotPermitted
from mopsgate.governance.manifest_load import manifest_digest
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.reviewer_keys import sign
from mopsgate.governance.reviewer_proof import checklist_answers
from mopsgate.server.cli_review import (
    HomeOpt,
    ManifestOpt,
    fail,
    manifest_or_exit,
    review_settings,
    unknown_reviewer,
    with_storage,
)
from mopsgate.server.reviewer_files import KeyFileError, key_path, read_key
from mopsgate.server.settings import Settings
from mopsgate.storage import Storage

ReviewerOpt = Annotated[str, typer.Option("--reviewer", help="Your reviewer name.")]
KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key",
        help="Your private key (default: $XDG_CONFIG_HOME/mopsgate/reviewers/NAME.pem).",
    ),
]
CheckOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--check",
        help="A checklist answer: ID to tick an item, ID=TEXT to answer one (repeat per item).",
    ),
]


def _answers(checks: list[str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in checks or []:
        key, sep, value = item.partition("=")
        out[key.strip()] = value if sep else "yes"
    return out


def _signed(
    settings: Settings,
    m: Manifest,
    change: Change,
    reviewer: str,
    decision: Verdict,
    note: str,
    checks: list[str] | None,
    key: Path | None,
) -> SignedDecision:
    """The decision, signed with the reviewer's key; GovernanceError when it cannot be. Who
    may decide is checked first, so a refusal names the real problem, not a missing key."""
    check_reviewer(m, change, reviewer, decision)
    answers = {}
    if decision == "approve":
        answers = checklist_answers(m, change.risk_class, _answers(checks))
    try:
        private = read_key(key or key_path(reviewer), settings.home, reviewer)
    except KeyFileError as exc:
        raise NotPermitted(
            f"no usable signing key: {exc}",
            hint="a decision must be signed; a typed reviewer name proves nothing",
            details={"reason_code": "no_key", "change_id": change.id},
        ) from exc
    statement = new_statement(
        change_id=change.id,
        plan_digest=change.plan_digest,
        manifest_digest=manifest_digest(m),
        decision=decision,
        reviewer=reviewer,
        note=note,
        checklist=answers,
        at=utcnow(),
    )
    return sign(statement, private)


def _record(
    settings: Settings,
    m: Manifest,
    action: Verdict,
    change_id: str,
    reviewer: str,
    arguments: dict[str, str],
    make: Callable[[Change], SignedDecision],
) -> Change:
    """Sign (``make``: a callable from the stored change to a SignedDecision) and record the
    decision through ``governance.deciding``, which audits it whatever happens; a refusal
    exits 1 with the reason. An unknown reviewer is refused (and audited) first."""
    stranger = unknown_reviewer(m, reviewer)

    async def session(storage: Storage) -> Change | GovernanceError:
        if stranger is not None:
            await refuse(
                storage.audit,
                action=action,
                change_id=change_id,
                reviewer=reviewer,
                transport="cli",
                arguments=arguments,
                error=stranger,
            )
            return stranger
        try:
            return await record(
                storage.changes,
                storage.audit,
                m,
                action=action,
                change_id=change_id,
                reviewer=reviewer,
                transport="cli",
                arguments=arguments,
                make=make,
            )
        except AuditUnavailable:
            raise  # not even the refusal could be written: with_storage says so
        except GovernanceError as exc:
            return exc

    result = with_storage(settings, session)
    if isinstance(result, GovernanceError):
        raise fail(f"{result.message}" + (f" ({result.hint})" if result.hint else ""))
    return result


def _say_approved(m: Manifest, change: Change) -> None:
    if change.status is ChangeStatus.APPROVED:
        typer.echo(f"Approved {change.id}: it is now approved and can be applied.")
    else:
        typer.echo(f"Approval recorded for {change.id}. {approval_summary(m, change)}.")


def _sign_and_record(
    manifest: str | None,
    home: str | None,
    change_id: str,
    reviewer: str,
    verdict: Verdict,
    note: str,
    checks: list[str] | None,
    key: Path | None,
) -> tuple[Manifest, Change]:
    settings = review_settings(manifest, home)
    m = manifest_or_exit(settings)
    arguments = {"note" if verdict == "approve" else "reason": note}

    def make(change: Change) -> SignedDecision:
        return _signed(settings, m, change, reviewer, verdict, note, checks, key)

    return m, _record(settings, m, verdict, change_id, reviewer, arguments, make)


def approve_cmd(
    change_id: str,
    reviewer: ReviewerOpt,
    note: Annotated[str, typer.Option("--note", help="A note for the record.")] = "",
    check: CheckOpt = None,
    key: KeyOpt = None,
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """Approve a proposed change as REVIEWER, signed with your key."""
    m, change = _sign_and_record(manifest, home, change_id, reviewer, "approve", note, check, key)
    _say_approved(m, change)


def reject_cmd(
    change_id: str,
    reviewer: ReviewerOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why; the requester sees it.")],
    key: KeyOpt = None,
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """Reject a proposed change (or revoke an approved one before it is applied), signed."""
    _sign_and_record(manifest, home, change_id, reviewer, "reject", reason, None, key)
    typer.echo(f"Rejected {change_id}.")


def sign_cmd(
    change_id: str,
    reviewer: ReviewerOpt,
    decision: Annotated[str, typer.Option("--decision", help="approve or reject")],
    note: Annotated[str, typer.Option("--note", help="The note, or the rejection reason.")] = "",
    check: CheckOpt = None,
    key: KeyOpt = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write it here.")] = None,
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """Sign a decision without recording it (JSON); record it with `review submit`."""
    if decision not in ("approve", "reject"):
        raise fail("--decision must be approve or reject", 2)
    verdict: Verdict = "approve" if decision == "approve" else "reject"
    settings = review_settings(manifest, home)
    m = manifest_or_exit(settings)
    stranger = unknown_reviewer(m, reviewer)
    if stranger is not None:
        raise fail(f"{stranger.message}" + (f" ({stranger.hint})" if stranger.hint else ""))
    change = with_storage(settings, lambda s: s.changes.get(change_id))
    if change is None:
        raise fail(f"there is no change {change_id!r}; see 'mopsgate review list'")
    try:
        signed = _signed(settings, m, change, reviewer, verdict, note, check, key)
    except GovernanceError as exc:
        raise fail(f"{exc.message}" + (f" ({exc.hint})" if exc.hint else "")) from exc
    text = signed.model_dump_json(indent=2) + "\n"
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"Wrote the signed decision to {out}; record it with `mopsgate review submit`.")


def submit_cmd(
    path: Annotated[Path, typer.Argument(help="A signed decision from `mopsgate review sign`.")],
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """Record a decision signed elsewhere (checked exactly like approve and reject)."""
    settings = review_settings(manifest, home)
    m = manifest_or_exit(settings)
    try:
        signed = SignedDecision.model_validate_json(path.read_bytes())
    except (OSError, ValidationError) as exc:
        error = InvalidInput(
            f"{path} is not a signed decision ({_why_unreadable(exc)}); make one with "
            "`mopsgate review sign … -o FILE`"
        )
        with_storage(
            settings,
            lambda s: refuse(
                s.audit,
                action="submit",
                change_id=None,
                reviewer=None,
                transport="cli",
                arguments={"file": str(path)},
                error=error,
            ),
        )
        raise fail(error.message) from exc
    st = signed.statement
    change = _record(
        settings,
        m,
        st.decision,
        st.change_id,
        st.reviewer,
        {"note" if st.decision == "approve" else "reason": st.note},
        lambda _c: signed,
    )
    if st.decision == "approve":
        _say_approved(m, change)
    else:
        typer.echo(f"Rejected {change.id}.")


def _why_unreadable(exc: OSError | ValidationError) -> str:
    """What is wrong with a decision file, in one line: the OS's reason, or the first field
    that is missing or malformed (pydantic's own text spans several lines)."""
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "the file"
    more = f"; {exc.error_count() - 1} more problem(s)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{more}"


def add_decision_commands(app: typer.Typer) -> None:
    """Register approve, reject, sign and submit on ``mopsgate review`` (once)."""
    present = {info.name for info in app.registered_commands}
    commands: dict[str, Callable[..., None]] = {
        "approve": approve_cmd,
        "reject": reject_cmd,
        "sign": sign_cmd,
        "submit": submit_cmd,
    }
    for name, command in commands.items():
        if name not in present:
            app.command(name)(command)
