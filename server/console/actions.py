"""The console's actions (POST): log in and out, decide, freeze.

A decision takes two requests. ``/changes/<id>/decide/options`` receives the form (decision,
note or reason, checklist answers), checks what can be checked before anyone signs, builds the
decision statement and answers with WebAuthn options whose challenge is the statement's sha256.
``/changes/<id>/decide/verify`` receives the assertion, and the very functions behind
``mopsgate review`` check it and record the decision. Every refusal, at either step, is audited.
Without JavaScript the form posts to ``/changes/<id>/decide``, which explains that a passkey is
needed; its CSRF token is checked first all the same.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mopsgate.governance.approvals import check_reviewer
from mopsgate.governance.change_model import Change
from mopsgate.governance.deciding import as_refusal, record, refuse
from mopsgate.governance.decision_proof import SignedDecision
from mopsgate.governance.decision_statement import DecisionStatement, Verdict, new_statement
from mopsgate.governance.errors import AuditUnavailable, GovernanceError, InvalidInput, NotPermitted
from mopsgate.governance.freeze import freezing
from mopsgate.governance.reviewer_proof import checklist_answers
from mopsgate.server.console import passkeys
from mopsgate.server.console.pages import signed_in
from mopsgate.server.console.web import (
    Refused,
    console_of,
    form_of,
    json_of,
    render,
    see_other,
    session_of,
    with_cookie,
)

CHECK_PREFIX = "check-"
NOT_LOGGED_IN = "You are not logged in (or your passkey is no longer declared)."


async def login_options(request: Request) -> Response:
    session = session_of(request)
    await json_of(request, session)
    assert session is not None
    options, challenge = passkeys.login_options(console_of(request).rp)
    session.ceremony = {"kind": "login", "challenge": challenge}
    return Response(options, media_type="application/json")


def _ceremony(request: Request, kind: str) -> dict[str, Any]:
    session = session_of(request)
    state = session.ceremony if session else None
    if session is not None:
        session.ceremony = None  # one use, whatever happens next
    if not state or state.get("kind") != kind:
        raise Refused(400, "no passkey ceremony is under way here; start again", code="no_ceremony")
    return state


async def _login_verify(request: Request) -> Response:
    console = console_of(request)
    body = await json_of(request, session_of(request))
    state = _ceremony(request, "login")
    manifest, _ = await console.desk.manifest()
    try:
        reviewer, pk = passkeys.login_verify(console.rp, manifest, body, state["challenge"])
    except passkeys.CeremonyFailed as exc:
        await console.desk.audit(
            kind="review",
            tool="console login",
            decision="denied",
            outcome="refused",
            reason=str(exc),
            error_code="login_failed",
        )
        raise Refused(403, str(exc), audited=True) from exc
    old = session_of(request)
    if old is not None:
        console.sessions.drop(old.id)
    fresh = console.sessions.new(reviewer, pk.id)  # a new id and CSRF token after login
    await console.desk.audit(
        kind="review",
        principal=reviewer,
        tool="console login",
        decision="allowed",
        outcome="ok",
        arguments={"passkey": pk.id[:16]},
        result_summary="logged in",
    )
    return with_cookie(request, JSONResponse({"redirect": "/queue"}), fresh)


async def logout(request: Request) -> Response:
    session = session_of(request)
    await form_of(request, session)
    if session is not None:
        console_of(request).sessions.drop(session.id)
    return see_other("/login")


def _answers(form: dict[str, str]) -> dict[str, str]:
    return {k.removeprefix(CHECK_PREFIX): v for k, v in form.items() if k.startswith(CHECK_PREFIX)}


async def _decide_options(request: Request) -> Response:
    console = console_of(request)
    session = session_of(request)
    form = await form_of(request, session)
    found = await signed_in(request)
    if isinstance(found, Response):
        raise Refused(403, NOT_LOGGED_IN, code="not_logged_in")
    session, manifest, digest = found
    reviewer = session.reviewer or ""
    change_id = request.path_params["change_id"]
    decision: Verdict = "reject" if form.get("decision") == "reject" else "approve"
    note = form.get("note", "").strip()
    change: Change | None = None
    try:
        change = await console.desk.storage.changes.require(change_id)
        check_reviewer(manifest, change, reviewer, decision)
        if decision == "reject" and not note:
            raise InvalidInput(
                "a rejection needs a reason", hint="say why, so the requester can act on it"
            )
        answers = (
            checklist_answers(manifest, change.risk_class, _answers(form))
            if decision == "approve"
            else {}
        )
        passkeys_of = manifest.reviewers[reviewer].passkeys
        if not passkeys_of:
            raise NotPermitted(
                "you have no passkey declared in the manifest",
                details={"reason_code": "no_credential"},
            )
        statement = new_statement(
            change_id=change.id,
            plan_digest=change.plan_digest,
            manifest_digest=digest,
            decision=decision,
            reviewer=reviewer,
            note=note,
            checklist=answers,
            at=console.desk.clock.now(),
        )
    except Exception as exc:
        error = as_refusal(exc)
        await refuse(
            console.desk.storage.audit,
            action=decision,
            change_id=change_id,
            reviewer=reviewer,
            transport="console",
            arguments={"note": note},
            error=error,
            change=change,
        )
        raise Refused(_status(error), _text(error), audited=True) from exc
    options = passkeys.decide_options(console.rp, statement.digest(), passkeys_of)
    session.ceremony = {
        "kind": "decide",
        "statement": statement.model_dump_json(),
        "change": change.id,
    }
    return Response(options, media_type="application/json")


async def _decide_verify(request: Request) -> Response:
    console = console_of(request)
    session = session_of(request)
    body = await json_of(request, session)
    state = _ceremony(request, "decide")
    found = await signed_in(request)
    if isinstance(found, Response):
        raise Refused(403, NOT_LOGGED_IN, code="not_logged_in")
    session, manifest, _ = found
    statement = DecisionStatement.model_validate(json.loads(state["statement"]))
    change_id = request.path_params["change_id"]
    if state["change"] != change_id:
        raise Refused(400, "that ceremony was for another change; start again", code="other_change")

    def make(_change: Change) -> SignedDecision:
        """The passkey's assertion over the statement, from a reviewer still declared."""
        declared = manifest.reviewers.get(statement.reviewer)
        if declared is None or statement.reviewer != session.reviewer:
            raise NotPermitted(
                f"{statement.reviewer} is not a reviewer in the manifest in force (removed "
                "since the decision was started), so the decision cannot be recorded",
                hint="ask the manifest owner; nothing was recorded",
                details={"reason_code": "reviewer_removed"},
            )
        try:
            proof = passkeys.decision_proof(console.rp, body, declared.passkeys)
        except passkeys.CeremonyFailed as exc:
            raise NotPermitted(str(exc), details={"reason_code": "no_credential"}) from exc
        return SignedDecision(statement=statement, proof=proof)

    storage = console.desk.storage
    try:
        await record(
            storage.changes,
            storage.audit,
            manifest,
            action=statement.decision,
            change_id=change_id,
            reviewer=statement.reviewer,
            transport="console",
            arguments={"note": statement.note},
            make=make,
            now=console.desk.clock.now(),
        )
    except GovernanceError as exc:
        raise Refused(_status(exc), _text(exc), audited=True) from exc
    done = "approved" if statement.decision == "approve" else "rejected"
    return JSONResponse({"redirect": f"/changes/{change_id}?decided={done}"})


async def decide_without_script(request: Request) -> Response:
    session = session_of(request)
    await form_of(request, session)
    assert session is not None
    return render(
        request,
        "message.html",
        session,
        status=400,
        title="A passkey is needed",
        message="Approving or rejecting is signed with your passkey, which needs JavaScript "
        "in this page. Enable it, or decide with `mopsgate review` and your signing key.",
    )


async def freeze(request: Request) -> Response:
    return await _audited(request, "freeze", "freeze", lambda: _switch(request, "freeze"))


async def unfreeze(request: Request) -> Response:
    return await _audited(request, "freeze", "unfreeze", lambda: _switch(request, "unfreeze"))


async def login_verify(request: Request) -> Response:
    return await _audited(request, "review", "console login", lambda: _login_verify(request))


async def decide_options(request: Request) -> Response:
    return await _audited(request, "review", "console decide", lambda: _decide_options(request))


async def decide_verify(request: Request) -> Response:
    return await _audited(request, "review", "console decide", lambda: _decide_verify(request))


async def _audited(
    request: Request,
    kind: Literal["review", "freeze"],
    tool: str,
    action: Callable[[], Awaitable[Response]],
) -> Response:
    """Run a console action; a refusal not audited on its way (a CSRF token, no session, no
    ceremony, a ceremony for another change) gets its row here, so every refusal has one."""
    try:
        return await action()
    except Refused as exc:
        if not exc.audited:
            session = session_of(request)
            await console_of(request).desk.audit(
                kind=kind,
                principal=session.reviewer if session is not None else None,
                tool=tool,
                change_id=request.path_params.get("change_id"),
                decision="denied",
                outcome="refused",
                reason=exc.message,
                error_code=exc.code,
            )
        raise


async def _switch(request: Request, action: str) -> Response:
    console = console_of(request)
    form = await form_of(request, session_of(request))
    found = await signed_in(request)
    if isinstance(found, Response):
        raise Refused(403, "You are not logged in.", code="not_logged_in")
    session, manifest, _ = found
    reviewer = session.reviewer or ""
    if not manifest.reviewers[reviewer].may_freeze:
        await console.desk.audit(
            kind="freeze",
            principal=reviewer,
            tool=action,
            decision="denied",
            outcome="refused",
            reason=f"{reviewer} may not {action} (reviewers.{reviewer}.may_freeze)",
            error_code="not_entitled",
        )
        raise Refused(
            403, f"You may not {action} applies (reviewers.{reviewer}.may_freeze).", audited=True
        )
    switch = console.desk.storage.freeze
    reason = form.get("reason", "").strip()
    if action == "freeze":
        before = await switch.state()
        wanted = freezing(before, reason, reviewer, console.desk.clock.now())
        reason = wanted.reason
        await switch.freeze(reason, wanted.by, at=wanted.at)
        summary = "applies frozen" if before is None else "applies were already frozen"
    else:
        summary = (
            "applies resumed" if await switch.unfreeze(reviewer) else "applies were not frozen"
        )
    await console.desk.audit(
        kind="freeze",
        principal=reviewer,
        tool=action,
        decision="allowed",
        outcome="ok",
        reason=reason or None,
        result_summary=summary,
    )
    return see_other("/queue")


def _status(exc: GovernanceError) -> int:
    if isinstance(exc, AuditUnavailable):
        return 503
    return 400 if isinstance(exc, InvalidInput) else (403 if isinstance(exc, NotPermitted) else 409)


def _text(exc: GovernanceError) -> str:
    return f"{exc.message}" + (f" ({exc.hint})" if exc.hint else "")
