"""Request plumbing shared by the console's pages: sessions, CSRF, rendering, JSON bodies.

Every form carries the session's CSRF token in a hidden ``csrf`` field, and every ``fetch``
sends it in ``X-CSRF-Token``; both are compared in constant time, and a request without a
session or with the wrong token gets 403 before anything else is looked at.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from mopsgate.governance.diff_lines import visible
from mopsgate.server.console.desk import ConsoleDesk
from mopsgate.server.console.passkeys import RelyingParty
from mopsgate.server.console.sessions import COOKIE, Session, Sessions


@dataclass(frozen=True)
class ConsoleConfig:
    """Where the console is reached (its origin is the passkeys' RP) and its limits."""

    origin: str
    idle_seconds: float = 900.0
    max_session_seconds: float = 8 * 3600.0
    page_size: int = 100

    @property
    def secure(self) -> bool:
        return self.origin.startswith("https://")


@dataclass
class Console:
    """Everything a handler needs, kept on ``app.state.console``."""

    desk: ConsoleDesk
    config: ConsoleConfig
    rp: RelyingParty
    sessions: Sessions
    templates: Environment


class Refused(Exception):
    """Stop handling: answer with this status and message (JSON for fetch, text otherwise).
    ``code`` names the refusal in its audit row; ``audited``: the row is already written."""

    def __init__(
        self, status: int, message: str, *, code: str = "refused", audited: bool = False
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.audited = audited


def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("mopsgate.server.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    # CRM names and descriptions: escaping alone would let a bidi override in a list's name
    # reorder what the reviewer reads; spelled out, it shows as <U+202E>.
    env.filters["untrusted"] = lambda value: visible(value, quote=False)
    return env


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def session_of(request: Request) -> Session | None:
    return console_of(request).sessions.get(request.cookies.get(COOKIE))


def with_cookie(request: Request, response: Response, session: Session) -> Response:
    """(Re)send the session cookie: HttpOnly, SameSite=Strict, Secure on https."""
    response.set_cookie(
        COOKIE,
        session.id,
        httponly=True,
        samesite="strict",
        secure=console_of(request).config.secure,
        path="/",
    )
    return response


def session_or_new(request: Request) -> Session:
    return session_of(request) or console_of(request).sessions.new()


def render(
    request: Request, template: str, session: Session, *, status: int = 200, **ctx: Any
) -> Response:
    console = console_of(request)
    html = console.templates.get_template(template).render(
        csrf=session.csrf, me=session.reviewer, **ctx
    )
    return with_cookie(request, HTMLResponse(html, status), session)


def csrf_ok(session: Session | None, token: object) -> bool:
    return (
        session is not None
        and isinstance(token, str)
        and secrets.compare_digest(session.csrf.encode(), token.encode())
    )


async def form_of(request: Request, session: Session | None) -> dict[str, str]:
    """The posted form, after its CSRF token is checked (403 otherwise)."""
    form = await request.form()
    if not csrf_ok(session, form.get("csrf")):
        raise Refused(403, "Forbidden: the form's CSRF token is missing or wrong; reload the page.")
    return {k: v for k, v in form.items() if isinstance(v, str)}


async def json_of(request: Request, session: Session | None) -> dict[str, Any]:
    """A fetch()'s JSON object, after its X-CSRF-Token header is checked (403 otherwise)."""
    if not csrf_ok(session, request.headers.get("x-csrf-token")):
        raise Refused(403, "Forbidden: the CSRF token is missing or wrong; reload the page.")
    try:
        body = await request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise Refused(400, "expected a JSON object")
    return body


def refused_response(request: Request, exc: Refused) -> Response:
    if request.headers.get("x-csrf-token") is not None or request.url.path.endswith(
        ("/options", "/verify")
    ):
        return JSONResponse({"error": exc.message}, exc.status)
    return Response(exc.message, exc.status, media_type="text/plain; charset=utf-8")


def see_other(url: str) -> Response:
    return RedirectResponse(url, 303)
