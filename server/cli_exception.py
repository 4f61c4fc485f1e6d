"""`mopsgate exception grant|revoke|list`: time-boxed exceptions, signed like approvals.

A grant names the use case, what is waived, how long, the reviewer, the ticket and the reason;
it is signed with the reviewer's own key (as `review approve` signs), checked against the
manifest in force and the floor (``governance/waivers.py``), stored, and audited — refusals
too. The server notices a grant or a revocation at its next call (``waiver_overlay``); an
exception lapses by itself at its expiry, with nothing to run.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.change_model import utcnow
from mopsgate.governance.deciding import as_refusal
from mopsgate.governance.decision_statement import statement_time
from mopsgate.governance.errors import GovernanceError, InvalidInput, NotFound, NotPermitted
from mopsgate.governance.manifest_load import manifest_digest
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.waiver_statement import (
    SignedWaiver,
    WaiverAction,
    WaiverStatement,
    check_signed_waiver,
    sign_waiver,
)
from mopsgate.governance.waivers import (
    Waiver,
    apply_waivers,
    check_duration,
    check_grant,
    check_not_overridden,
    parse_what,
)
from mopsgate.server.cli_async import run
from mopsgate.server.cli_render import fitted, paragraphs
from mopsgate.server.cli_review import (
    HomeOpt,
    ManifestOpt,
    existing_state_settings,
    fail,
    manifest_or_exit,
    review_settings,
    unknown_reviewer,
    with_storage,
)
from mopsgate.server.reviewer_files import KeyFileError, key_path, read_key
from mopsgate.server.settings import Settings
from mopsgate.server.waiver_overlay import touch_stamp
from mopsgate.storage import Storage, stored_exceptions

exception_app = typer.Typer(
    no_args_is_help=True,
    help="Time-boxed exceptions to a use case's limits, signed by a reviewer; they expire.",
)
ReviewerOpt = Annotated[str, typer.Option("--reviewer", help="The granting reviewer (you).")]
KeyOpt = Annotated[
    Path | None,
    typer.Option("--key", help="Your private key (default: the one `reviewer keygen` wrote)."),
]
_SPAN_UNITS = {"d": "days", "h": "hours", "w": "weeks"}
Work = Callable[[Storage], Awaitable[Waiver]]


def parse_expiry(text: str, now: dt.datetime) -> dt.datetime:
    """``7d``, ``48h``, ``2w`` from now, or a date / date-time (UTC unless it says); anything
    else is bad input, refused and audited like every other refusal."""
    value = text.strip()
    if value[:-1].isdigit() and value[-1:] in _SPAN_UNITS:
        return now + dt.timedelta(**{_SPAN_UNITS[value[-1]]: int(value[:-1])})
    try:
        at = dt.datetime.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(
            f"--expires {text!r} is neither a span like 7d, 48h, 2w nor a date like 2026-09-01",
            hint="e.g. --expires 7d or --expires 2026-09-01T12:00",
        ) from exc
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def _sign(
    settings: Settings, reviewer: str, key: Path | None, statement: WaiverStatement
) -> SignedWaiver:
    try:
        private = read_key(key or key_path(reviewer), settings.home, reviewer)
    except KeyFileError as exc:
        raise NotPermitted(
            f"no usable signing key: {exc}",
            hint="an exception must be signed like an approval; a typed name proves nothing",
            details={"reason_code": "no_key"},
        ) from exc
    return sign_waiver(statement, private)


def _event(
    action: WaiverAction, statement: dict[str, str], error: GovernanceError | None
) -> AuditEvent:
    denied = isinstance(error, NotPermitted)
    return AuditEvent(
        kind="exception",
        principal=statement.get("reviewer"),
        transport="cli",
        tool=f"exception {action}",
        arguments={k: v for k, v in statement.items() if k != "reviewer"},
        use_case=statement.get("use_case"),
        decision="allowed" if error is None else ("denied" if denied else "error"),
        rule_id=error.rule_id if error is not None else None,
        reason=error.message[:500] if error is not None else statement.get("reason"),
        outcome="ok" if error is None else ("denied" if denied else "error"),
        error_code=error.code if error is not None else None,
        result_summary=statement.get("exception_id"),
    )


def _run(settings: Settings, action: WaiverAction, facts: dict[str, str], work: Work) -> Waiver:
    """Do ``work`` against storage, which stores the exception with its audit row in one
    transaction (``_event(action, facts, None)``: neither without the other); any refusal,
    whatever raised it, is audited here. A refusal exits 1 with the reason."""

    async def session(storage: Storage) -> Waiver | GovernanceError:
        try:
            return await work(storage)
        except Exception as exc:
            error = as_refusal(exc)
            await storage.audit.append(_event(action, facts, error))
            return error

    result = with_storage(settings, session)
    if isinstance(result, GovernanceError):
        raise fail(result.message + (f" ({result.hint})" if result.hint else ""))
    touch_stamp(settings.home)
    return result


def _not_past(text: str, until: dt.datetime, now: dt.datetime) -> None:
    """An expiry already past (a typo in the year, most often) said as such, not as the
    allowed range of durations."""
    if until <= now:
        raise InvalidInput(
            f"--expires {text!r} is {until:%Y-%m-%d %H:%M} UTC, which has already passed",
            hint="give a span like 7d or a later date; an exception lasts 5 minutes to 90 days",
        )


def _known(m: Manifest, reviewer: str) -> None:
    """Who is granting or revoking is checked first: a name that is not a reviewer learns
    that, and nothing about use cases or exceptions."""
    stranger = unknown_reviewer(m, reviewer)
    if stranger is not None:
        raise stranger


def _active(waivers: Sequence[Waiver], now: dt.datetime) -> list[Waiver]:
    return [w for w in waivers if w.state(now) == "active"]


@exception_app.command("grant")
def grant_cmd(
    use_case: Annotated[str, typer.Option("--use-case", help="The use case to widen.")],
    what: Annotated[
        str,
        typer.Option(
            "--what",
            help="tool:NAME, read_field:FIELD, write_field:FIELD or max_records:N.",
        ),
    ],
    expires: Annotated[
        str, typer.Option("--expires", help="7d, 48h, 2w from now, or a date (at most 90d).")
    ],
    reviewer: ReviewerOpt,
    ticket: Annotated[str, typer.Option("--ticket", help="The ticket that asks for it.")],
    reason: Annotated[str, typer.Option("--reason", help="Why it is needed.")],
    key: KeyOpt = None,
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """Grant a time-boxed exception, signed with your reviewer key."""
    settings = review_settings(manifest, home)
    m = manifest_or_exit(settings)
    now = utcnow()
    waiver_id = "exc_" + secrets.token_hex(6)
    facts = {
        "exception_id": waiver_id,
        "use_case": use_case,
        "what": what,
        "expires_at": expires,
        "ticket": ticket,
        "reason": reason,
        "reviewer": reviewer,
    }

    async def work(storage: Storage) -> Waiver:
        _known(m, reviewer)
        until = parse_expiry(expires, now)
        facts["expires_at"] = statement_time(until)
        parsed = parse_what(what)
        _not_past(expires, until, now)
        check_duration(now, until)
        if not ticket.strip() or not reason.strip():
            raise InvalidInput("an exception needs a --ticket and a --reason")
        check_grant(m, use_case, parsed, reviewer)
        check_not_overridden(m, use_case, parsed)
        signed = _signed(settings, m, reviewer, key, "grant", facts, now)
        waiver = Waiver(
            id=waiver_id,
            use_case=use_case,
            what=str(parsed),
            granted_at=signed.statement.time,
            expires_at=dt.datetime.fromisoformat(signed.statement.expires_at),
            reviewer=reviewer,
            ticket=ticket,
            reason=reason,
            grant=signed,
        )
        apply_waivers(m, [*_active(await storage.exceptions.all(), now), waiver])
        await storage.exceptions.grant(waiver, audit=_event("grant", facts, None))
        return waiver

    done = _run(settings, "grant", facts, work)
    typer.echo(
        f"Granted {done.id}: {done.what} for use case {done.use_case} until "
        f"{done.expires_at:%Y-%m-%d %H:%M} UTC (ticket {done.ticket}). "
        f"Revoke with `mopsgate exception revoke {done.id}`."
    )


def _signed(
    settings: Settings,
    m: Manifest,
    reviewer: str,
    key: Path | None,
    action: WaiverAction,
    facts: dict[str, str],
    now: dt.datetime,
) -> SignedWaiver:
    digest = manifest_digest(m)
    statement = WaiverStatement(
        action=action,
        exception_id=facts["exception_id"],
        use_case=facts["use_case"],
        what=facts["what"],
        expires_at=facts["expires_at"],
        ticket=facts["ticket"],
        reason=facts["reason"],
        reviewer=reviewer,
        manifest_digest=digest,
        at=statement_time(now),
    )
    signed = _sign(settings, reviewer, key, statement)
    check_signed_waiver(m, digest, signed, now)
    return signed


@exception_app.command("revoke")
def revoke_cmd(
    exception_id: Annotated[str, typer.Argument(help="The exception's id (exc_...).")],
    reviewer: ReviewerOpt,
    reason: Annotated[str, typer.Option("--reason", help="Why it ends early.")],
    key: KeyOpt = None,
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """End an exception now, signed with your reviewer key."""
    settings = review_settings(manifest, home)
    m = manifest_or_exit(settings)
    now = utcnow()
    facts = {"exception_id": exception_id, "reason": reason, "reviewer": reviewer}

    async def work(storage: Storage) -> Waiver:
        _known(m, reviewer)
        found = await storage.exceptions.get(exception_id)
        if found is None:
            raise NotFound(f"there is no exception {exception_id!r}; see `mopsgate exception list`")
        facts.update(use_case=found.use_case, what=found.what, ticket=found.ticket)
        facts["expires_at"] = statement_time(found.expires_at)
        if found.state(now) != "active":
            raise InvalidInput(f"{exception_id} is already {found.state(now)}")
        check_grant(m, found.use_case, parse_what(found.what), reviewer)
        signed = _signed(settings, m, reviewer, key, "revoke", facts, now)
        done = await storage.exceptions.revoke(signed, audit=_event("revoke", facts, None))
        if done is None:
            raise InvalidInput(f"{exception_id} was revoked meanwhile")
        return done

    done = _run(settings, "revoke", facts, work)
    typer.echo(f"Revoked {done.id} ({done.what} for use case {done.use_case}).")


@exception_app.command("list")
def list_cmd(
    all_: Annotated[
        bool, typer.Option("--all", help="Include expired and revoked exceptions.")
    ] = False,
    manifest: ManifestOpt = None,
    home: HomeOpt = None,
) -> None:
    """The exceptions in force (with --all, every one ever granted)."""
    settings = existing_state_settings(manifest, home)
    waivers = recorded_exceptions(settings)
    now = utcnow()
    shown = [w for w in waivers if all_ or w.state(now) == "active"]
    if not shown:
        typer.echo("No exceptions" + ("." if all_ else " in force."))
        return
    console = Console(highlight=False)
    console.print(exceptions_table(console, shown, now, "Exceptions"))


def recorded_exceptions(settings: Settings) -> list[Waiver]:
    """Every exception recorded in the state directory; none when there is no database yet
    (explain and the report only read: they must not create one)."""
    return run(stored_exceptions(settings.storage()))


def exceptions_table(
    console: Console, waivers: Sequence[Waiver], now: dt.datetime, title: str
) -> RenderableType:
    """The exceptions as a table when it fits ``console``, else a paragraph each: the id (to
    copy into `exception revoke`) is never cut off."""
    table = Table(
        "id", "use case", "what", "state", "expires (UTC)", "reviewer", "ticket", title=title
    )
    for w in waivers:
        expiry = f"{w.expires_at:%Y-%m-%d %H:%M}"
        cells = (w.id, w.use_case, w.what, w.state(now), expiry, w.reviewer, w.ticket)
        table.add_row(*(Text(cell, no_wrap=True) for cell in cells))

    def stacked(width: int) -> RenderableType:
        items = [
            (
                [w.id, w.use_case, w.what],
                [
                    w.state(now),
                    f"until {w.expires_at:%Y-%m-%d %H:%M} UTC",
                    f"by {w.reviewer}",
                    f"ticket {w.ticket}",
                ],
            )
            for w in waivers
        ]
        return Group(Text(title, style="bold"), paragraphs(items, width))

    return fitted(console, [table], stacked)
