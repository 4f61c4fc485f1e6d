"""The review console: a Starlette app on its own listener, for humans with passkeys.

``mopsgate console`` serves it (default 127.0.0.1:8766). It shares nothing with the MCP
listener but the storage and the manifest file: it never accepts an MCP bearer token, and no
MCP tool reaches any of its routes, so nothing an assistant holds can approve. Pages are
rendered on the server (Jinja2, autoescaped); the only script is the passkey ceremony, served
from the console's own origin under a strict Content-Security-Policy.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from mopsgate.server.console import actions, enrol, pages
from mopsgate.server.console.desk import ConsoleDesk
from mopsgate.server.console.passkeys import RelyingParty
from mopsgate.server.console.security import ConsoleWalls
from mopsgate.server.console.sessions import Sessions
from mopsgate.server.console.web import (
    Console,
    ConsoleConfig,
    Refused,
    refused_response,
    see_other,
    templates,
)


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refused)
    return refused_response(request, exc)


async def _home(request: Request) -> Response:
    return see_other("/queue")


def allowed_hosts(origin: str, bound: tuple[str, int] | None) -> list[str]:
    """The Host headers the console answers: its origin's, and its bound address's."""
    parts = urlsplit(origin)
    hosts = [parts.netloc]
    if bound is not None:
        host, port = bound
        hosts += [f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"]
    return hosts


def build_console_app(
    desk: ConsoleDesk, config: ConsoleConfig, *, bound: tuple[str, int] | None = None
) -> Starlette:
    rp = RelyingParty(origin=config.origin, rp_id=urlsplit(config.origin).hostname or "localhost")

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await desk.open()
        try:
            yield
        finally:
            await desk.close()

    app = Starlette(
        routes=[
            Route("/", _home),
            Route("/login", pages.login_page),
            Route("/login/options", actions.login_options, methods=["POST"]),
            Route("/login/verify", actions.login_verify, methods=["POST"]),
            Route("/logout", actions.logout, methods=["POST"]),
            Route("/queue", pages.queue_page),
            Route("/history", pages.history_page),
            Route("/changes/{change_id}", pages.change_page),
            Route("/changes/{change_id}/decide", actions.decide_without_script, methods=["POST"]),
            Route("/changes/{change_id}/decide/options", actions.decide_options, methods=["POST"]),
            Route("/changes/{change_id}/decide/verify", actions.decide_verify, methods=["POST"]),
            Route("/freeze", actions.freeze, methods=["POST"]),
            Route("/unfreeze", actions.unfreeze, methods=["POST"]),
            Route("/enrol/done", enrol.enrolled_page),
            Route("/enrol/{token}", enrol.enrol_page),
            Route("/enrol/{token}/options", enrol.enrol_options, methods=["POST"]),
            Route("/enrol/{token}/verify", enrol.enrol_verify, methods=["POST"]),
            Mount(
                "/static",
                StaticFiles(packages=[("mopsgate.server.console", "static")]),
                name="static",
            ),
        ],
        exception_handlers={Refused: _refused},
        lifespan=lifespan,
    )
    app.state.console = Console(
        desk=desk,
        config=config,
        rp=rp,
        sessions=Sessions(idle_seconds=config.idle_seconds, max_seconds=config.max_session_seconds),
        templates=templates(),
    )
    app.add_middleware(
        ConsoleWalls, origin=config.origin, hosts=allowed_hosts(config.origin, bound)
    )
    return app
