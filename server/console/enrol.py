"""Passkey enrolment from a one-time invite link: ``/enrol/<token>``.

Anyone holding the link may enrol a passkey for the invited reviewer, once, within 24 hours;
that is why the link is made by an admin (``mopsgate reviewer invite``), sent to the reviewer
only, and why the result opens nothing until the manifest declares it. Every use, refused ones
included, is audited.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mopsgate.governance.public_keys import passkey_fingerprint
from mopsgate.governance.reviewer_invites import Invite, token_hash
from mopsgate.server.console import passkeys
from mopsgate.server.console.web import (
    Refused,
    console_of,
    json_of,
    render,
    session_of,
    session_or_new,
)
from mopsgate.server.manifest_edit import ManifestEditRefused, declare_in_sandbox


async def _invite(request: Request) -> Invite:
    desk = console_of(request).desk
    digest = token_hash(request.path_params["token"])
    invite = await desk.storage.invites.find(digest)
    now = desk.clock.now()
    why = (
        "this invite link is not valid; ask for a new one"
        if invite is None
        else invite.why_not(now)
    )
    if why:
        await desk.audit(
            kind="enrolment",
            principal=invite.reviewer if invite else None,
            tool="console enrol",
            decision="denied",
            outcome="refused",
            reason=why,
            error_code="invite_unusable",
        )
        raise Refused(403, why)
    assert invite is not None
    return invite


async def enrol_page(request: Request) -> Response:
    session = session_or_new(request)
    try:
        invite = await _invite(request)
    except Refused as exc:
        return render(
            request,
            "message.html",
            session,
            status=exc.status,
            title="Invite not usable",
            message=exc.message,
        )
    manifest, _ = await console_of(request).desk.manifest()
    rv = manifest.reviewers.get(invite.reviewer)
    return render(
        request,
        "enrol.html",
        session,
        reviewer=invite.reviewer,
        name=rv.name if rv else "",
        expires=invite.expires_at,
        token=request.path_params["token"],
    )


async def enrol_options(request: Request) -> Response:
    console = console_of(request)
    session = session_of(request)
    await json_of(request, session)
    assert session is not None
    invite = await _invite(request)
    manifest, _ = await console.desk.manifest()
    rv = manifest.reviewers.get(invite.reviewer)
    options, challenge = passkeys.enrol_options(
        console.rp, invite.reviewer, rv.name if rv else "", manifest
    )
    session.ceremony = {"kind": "enrol", "challenge": challenge, "invite": invite.token_hash}
    return Response(options, media_type="application/json")


async def enrol_verify(request: Request) -> Response:
    console = console_of(request)
    desk = console.desk
    session = session_of(request)
    body = await json_of(request, session)
    assert session is not None
    state, session.ceremony = session.ceremony, None
    invite = await _invite(request)
    if not state or state.get("kind") != "enrol" or state.get("invite") != invite.token_hash:
        raise Refused(400, "no enrolment is under way here; start again")
    try:
        passkey = passkeys.enrol_verify(console.rp, body, state["challenge"])
    except passkeys.CeremonyFailed as exc:
        await desk.audit(
            kind="enrolment",
            principal=invite.reviewer,
            tool="console enrol",
            decision="denied",
            outcome="refused",
            reason=str(exc),
            error_code="ceremony_failed",
        )
        raise Refused(400, str(exc)) from exc
    fingerprint = passkey_fingerprint(passkey.public_key)
    now = desk.clock.now()
    if await desk.storage.invites.use(invite.token_hash, at=now, credential=fingerprint) is None:
        raise Refused(409, "this invite was used at the same moment by another enrolment")
    label = f"passkey enrolled {now:%Y-%m-%d} via invite from {invite.created_by}"
    table = passkeys.passkey_table(invite.reviewer, passkey, label)
    declared = ""
    if invite.declare:
        try:
            declare_in_sandbox(desk.settings.manifest_path, table, desk.holder.catalogue)
            declared = "declared"
        except ManifestEditRefused as exc:
            declared = f"not declared: {exc}"
    await desk.audit(
        kind="enrolment",
        principal=invite.reviewer,
        tool="console enrol",
        decision="allowed",
        outcome="ok",
        arguments={"key_fingerprint": fingerprint, "invited_by": invite.created_by},
        result_summary="passkey enrolled" + (f"; {declared}" if declared else "; to be declared"),
    )
    session.enrolled = table + (f"\n# {declared} in the manifest\n" if declared else "")
    return JSONResponse({"redirect": "/enrol/done"})


async def enrolled_page(request: Request) -> Response:
    session = session_or_new(request)
    table, session.enrolled = session.enrolled, None
    if table is None:
        return render(
            request,
            "message.html",
            session,
            status=404,
            title="Nothing to show",
            message="The enrolment result is shown once, right after enrolment.",
        )
    return render(
        request,
        "enrolled.html",
        session,
        table=table,
        declared="# declared in the manifest" in table,
    )
