"""The console's pages (GET): the queue, the decided history, a change, the login page.

Reading needs a logged-in reviewer whose passkey the manifest in force still declares; a
reviewer removed from the manifest is logged out on their next request. Showing a change page
looks people up in the CRM (one page of records at a time) and writes an audit row saying how
many people were shown to whom and with which PII view.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from mopsgate.governance.change_facts import tell_by
from mopsgate.governance.change_model import Change, ChangeStatus
from mopsgate.governance.diff_lines import visible
from mopsgate.governance.manifest_load import digest_matches
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.review_events import view_event
from mopsgate.governance.risk import WRITE_CLASSES
from mopsgate.server.console.change_view import build_view, page_of, records_on
from mopsgate.server.console.sessions import Session
from mopsgate.server.console.web import console_of, render, see_other, session_of, session_or_new

QUEUE_LIMIT = 1000
HISTORY_LIMIT = 200
AGES = {"1h": timedelta(hours=1), "24h": timedelta(hours=24), "7d": timedelta(days=7)}


async def signed_in(request: Request) -> tuple[Session, Manifest, str] | Response:
    """The reviewer's session and the manifest in force, or a redirect to the login page."""
    session = session_of(request)
    manifest, digest = await console_of(request).desk.manifest()
    if session is None or session.reviewer is None:
        return see_other("/login")
    rv = manifest.reviewers.get(session.reviewer)
    if rv is None or session.credential not in {p.id for p in rv.passkeys}:
        console_of(request).sessions.drop(session.id)
        return see_other("/login?ended=credential")
    return session, manifest, digest


async def login_page(request: Request) -> Response:
    session = session_or_new(request)
    if session.reviewer is not None:
        return see_other("/queue")
    ended = request.query_params.get("ended")
    return render(request, "login.html", session, ended=ended)


def _filters(request: Request) -> dict[str, str]:
    q = request.query_params
    return {k: q.get(k, "").strip() for k in ("risk", "connector", "requester", "age")}


def _matches(change: Change, f: dict[str, str], now: datetime) -> bool:
    if f["risk"] and change.risk_class != f["risk"]:
        return False
    if f["connector"] and change.connector != f["connector"]:
        return False
    if f["requester"] and change.requester != f["requester"]:
        return False
    age = now - change.created_at
    if f["age"] == "old":
        return age > AGES["24h"]
    return not (f["age"] in AGES and age > AGES[f["age"]])


def _age(change: Change, now: datetime) -> str:
    minutes = int((now - change.created_at).total_seconds() // 60)
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h"
    return f"{minutes // 1440} d"


def _choices(manifest: Manifest) -> dict[str, Any]:
    return {
        "risks": sorted(WRITE_CLASSES),
        "connectors": sorted(manifest.connectors) or ["hubspot", "marketo", "salesforce"],
        "requesters": sorted(manifest.principals),
    }


async def queue_page(request: Request) -> Response:
    found = await signed_in(request)
    if isinstance(found, Response):
        return found
    session, manifest, _ = found
    desk = console_of(request).desk
    now = desk.clock.now()
    f = _filters(request)
    pending = await desk.storage.changes.list_changes(
        status=ChangeStatus.PROPOSED, limit=QUEUE_LIMIT
    )
    rows = [c for c in reversed(pending) if _matches(c, f, now)]  # oldest first
    return render(
        request,
        "queue.html",
        session,
        rows=[
            (c, _age(c, now), visible(c.reason, 80), c.is_expired(now), _stale(c, manifest))
            for c in rows
        ],
        filters=f,
        frozen=await desk.storage.freeze.state(),
        may_freeze=manifest.reviewers[session.reviewer or ""].may_freeze,
        **_choices(manifest),
    )


async def history_page(request: Request) -> Response:
    found = await signed_in(request)
    if isinstance(found, Response):
        return found
    session, manifest, _ = found
    desk = console_of(request).desk
    now = desk.clock.now()
    f = _filters(request)
    recent = await desk.storage.changes.list_changes(limit=HISTORY_LIMIT * 2)
    rows = [c for c in recent if c.status is not ChangeStatus.PROPOSED and _matches(c, f, now)]
    return render(
        request,
        "history.html",
        session,
        rows=[(c, _age(c, now), _decided_by(c)) for c in rows[:HISTORY_LIMIT]],
        filters=f,
        **_choices(manifest),
    )


def _stale(change: Change, manifest: Manifest) -> bool:
    """Planned under another manifest than the one in force: it can no longer be approved."""
    return not digest_matches(change.manifest_digest, manifest)


def _decided_by(change: Change) -> str:
    if change.rejection is not None:
        return f"rejected by {change.rejection.by}"
    if change.cancellation is not None:
        return f"cancelled by {change.cancellation.by}"
    if change.approvals:
        return "approved by " + ", ".join(a.reviewer for a in change.approvals)
    return ""


async def change_page(request: Request) -> Response:
    found = await signed_in(request)
    if isinstance(found, Response):
        return found
    session, manifest, digest = found
    console = console_of(request)
    desk = console.desk
    change = await desk.storage.changes.get(request.path_params["change_id"])
    if change is None:
        return render(
            request,
            "message.html",
            session,
            status=404,
            title="No such change",
            message="There is no change with that id.",
        )
    reviewer = session.reviewer or ""
    try:
        page = int(request.query_params.get("page", "1"))
    except ValueError:
        page = 1
    paging = page_of(len(change.plan.records), page, console.config.page_size)
    pii = manifest.reviewers[reviewer].pii
    refs = [r.ref for r in records_on(change, paging)]
    story = await tell_by(desk.connectors.get, change, manifest, pii, refs, desk.scans)
    view = build_view(manifest, digest, change, story, paging, reviewer, desk.clock.now())
    await desk.storage.audit.append(
        view_event(
            tool="console view", reviewer=reviewer, change=change, story=story,
            page=paging.page, pages=paging.pages, transport="console",
        )
    )  # fmt: skip
    return render(
        request,
        "change.html",
        session,
        v=view,
        decided=request.query_params.get("decided"),
        frozen=await desk.storage.freeze.state(),
    )
