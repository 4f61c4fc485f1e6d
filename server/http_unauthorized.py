"""The HTTP 401: say how to get a token, never point at an OAuth server that does not exist.

mopsgate issues its own bearer tokens (``mopsgate token create``) and runs no OAuth
authorization server. A 401 that carries ``resource_metadata`` makes clients such as MCP
Inspector start an OAuth flow that cannot succeed ("Interactive OAuth requires a TTY") instead
of telling the user what to do, so the server advertises no protected-resource metadata and this
ASGI wrapper rewrites every 401 into a JSON body naming the command and the header format.

A token that was issued but is revoked or expired is told so, and its use is audited: a revoked
token that keeps arriving is a leaked token in use. A token that was never issued is not
audited, so nobody without a token can make the server write to its audit log.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.bearer_tokens import Refusal
from mopsgate.governance.errors import AuditUnavailable, GovernanceError
from mopsgate.governance.ports import AuditSink
from mopsgate.server.bearer import BearerCache

log = logging.getLogger("mopsgate.http")

HEADER = "Authorization: Bearer <token>"
HOW_TO_GET_ONE = (
    "Ask the mopsgate operator to run `mopsgate token create --principal NAME` (NAME is a "
    "principal in permissions.toml) and send the token it prints once with every request as "
    f"the header `{HEADER}`."
)
ASGIApp = Callable[[Any, Any, Any], Awaitable[None]]
SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9_-]*")


def _authorization(scope: dict[str, Any]) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == b"authorization":
            return bytes(value).decode("latin-1").strip()
    return None


def _bearer(scope: dict[str, Any]) -> str | None:
    """The token of a well-formed ``Bearer <token>`` header, else None."""
    scheme, _, token = (_authorization(scope) or "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _malformed(header: str) -> str:
    """Why an Authorization header is not ``Bearer <token>`` (never echoing a credential)."""
    scheme, _, rest = header.partition(" ")
    if scheme.lower() == "bearer":
        return "The Authorization header says Bearer but carries no token after it."
    if not rest.strip():
        return "The Authorization header holds no scheme: write 'Bearer ' before the token."
    # Named only when it is a plain word: the description is also quoted in WWW-Authenticate.
    name = f"the {scheme[:20]!r} scheme" if SCHEME.fullmatch(scheme) else "another scheme"
    return f"The Authorization header uses {name}; mopsgate takes only 'Bearer <token>'."


@dataclass(frozen=True)
class RefusedToken:
    """A presented token that matches a stored one but is no longer accepted."""

    principal: str
    reason: Refusal


UNCHECKED = "unchecked"


def explain(presented: str | None, refused: RefusedToken | str | None) -> tuple[str, str]:
    """The (error, description) for a 401, from what the client sent."""
    if presented is None:
        return "missing_token", "mopsgate needs a bearer token on every request; none was sent."
    if refused == UNCHECKED:
        return "invalid_token", (
            "The token could not be checked: mopsgate's state database is unavailable. "
            "Retry shortly; if it persists, tell the mopsgate operator."
        )
    if isinstance(refused, RefusedToken) and refused.reason == "revoked":
        return "invalid_token", "This token was revoked; it no longer grants access."
    if refused is not None:
        return "invalid_token", "This token has expired; it no longer grants access."
    return "invalid_token", "This token is not one mopsgate issued (or it was mistyped)."


def unauthorized_body(error: str, description: str) -> bytes:
    body = {
        "error": error,
        "error_description": description,
        "how_to_get_a_token": HOW_TO_GET_ONE,
        "header": HEADER,
    }
    return json.dumps(body).encode()


class ExplainUnauthorized:
    """ASGI wrapper: any 401 from the app underneath goes out with mopsgate's own body."""

    def __init__(
        self, app: ASGIApp, tokens: BearerCache, audit_log: Callable[[], AuditSink | None]
    ) -> None:
        self.app = app
        self.tokens = tokens
        self.audit_log = audit_log

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope.get("type") != "http":
            await self.app(scope, receive, send)
            return
        refusing = False

        async def rewrite(message: dict[str, Any]) -> None:
            nonlocal refusing
            if message["type"] == "http.response.start" and message["status"] == 401:
                refusing = True
                return
            if not refusing:
                await send(message)
            elif not message.get("more_body", False):
                await self._refuse(scope, send)

        await self.app(scope, receive, rewrite)

    async def _refuse(self, scope: dict[str, Any], send: Any) -> None:
        header = _authorization(scope)
        presented = _bearer(scope)
        refused = await self._refused(presented) if presented else None
        if header and presented is None:  # a token sent the wrong way is not "never issued"
            presented, (error, description) = header, ("invalid_request", _malformed(header))
        else:
            error, description = explain(presented, refused)
        if isinstance(refused, RefusedToken):
            await self._audit(refused)
        body = unauthorized_body(error, description)
        challenge = 'Bearer realm="mopsgate"'  # RFC 6750 3.1: no error code without a token
        if presented is not None:
            challenge += f', error="{error}", error_description="{description}"'
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", challenge.encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _refused(self, presented: str) -> RefusedToken | str | None:
        """Why an issued token is refused (revoked or expired); None for a token that was
        never issued; UNCHECKED when the store cannot be asked."""
        try:
            record = await self.tokens.lookup(presented)
        except GovernanceError as exc:
            log.error("could not look up a refused bearer token: %s", exc)
            return UNCHECKED
        if record is None:
            return None
        reason = record.refusal(datetime.now(UTC))
        return None if reason is None else RefusedToken(record.principal, reason)

    async def _audit(self, refused: RefusedToken) -> None:
        audit_log = self.audit_log()
        if audit_log is None:
            return
        try:
            await audit_log.append(
                AuditEvent(
                    kind="token",
                    principal=refused.principal,
                    transport="http",
                    tool="http auth",
                    decision="denied",
                    outcome="denied",
                    rule_id=f"token-{refused.reason}",
                    reason=f"a {refused.reason} token was presented; the request was refused",
                )
            )
        except AuditUnavailable as exc:  # the request is refused either way
            log.error("could not audit the use of a %s token: %s", refused.reason, exc.message)
