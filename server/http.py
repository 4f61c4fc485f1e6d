"""Streamable HTTP: bearer-token auth and DNS-rebinding protection in front of the pipeline.

The SDK's resource-server half refuses requests without a valid token; our verifier maps an
opaque mopsgate token to its principal. mopsgate issues its own tokens with
``mopsgate token create`` and runs no OAuth authorization server, so it publishes no OAuth
protected-resource metadata (no ``resource_server_url``): advertising it would send clients into
an OAuth flow that cannot succeed. Should an authorization server ever be configured, that is
where its metadata would be advertised. The 401 itself is explained by ``http_unauthorized``.
"""

from __future__ import annotations

from typing import Any

from mcp.server.auth.middleware.auth_context import get_access_token
from mcp.server.auth.settings import AuthSettings
from mcp.server.transport_security import TransportSecuritySettings
from pydantic import AnyHttpUrl
from starlette.routing import Route

from mopsgate.server.bearer import SCOPE, BearerCache, BearerVerifier
from mopsgate.server.http_sessions import SdkSessions, SessionLimits
from mopsgate.server.http_unauthorized import ExplainUnauthorized
from mopsgate.server.settings import HttpSessionSettings

MCP_PATH = "/mcp"


def http_principal(_ctx: Any) -> str | None:
    token = get_access_token()
    return token.client_id if token is not None else None


def auth_settings(host: str, port: int) -> AuthSettings:
    return AuthSettings(
        # Required by the SDK; with no resource_server_url it is never published.
        issuer_url=AnyHttpUrl(f"http://{host}:{port}"),
        resource_server_url=None,
        required_scopes=[SCOPE],
    )


def transport_security(host: str, port: int) -> TransportSecuritySettings:
    """Only our own Host and Origin are accepted: a web page on another origin cannot reach a
    local server through DNS rebinding. Every name of the loopback interface is ours, the
    IPv6 one included; an IPv6 address is bracketed, as it is in a Host header."""
    hosts = {f"[{host}]" if ":" in host else host, "127.0.0.1", "localhost", "[::1]"}
    return TransportSecuritySettings(
        enable_dns_rebinding_protection=True,
        allowed_hosts=[f"{h}:{port}" for h in sorted(hosts)],
        allowed_origins=[f"http://{h}:{port}" for h in sorted(hosts)],
    )


def build_http_app(
    runtime: Any, host: str, port: int, sessions: HttpSessionSettings | None = None
) -> Any:
    """The Starlette app ``mopsgate serve --transport http`` runs: auth, Host/Origin checks,
    bounded sessions and the governed MCP server, with the lifespan that opens the audit log
    once per process."""
    from mopsgate.server.app import build_server

    limits = sessions or HttpSessionSettings()
    cache = BearerCache(lambda: runtime.require_storage().tokens)
    server = build_server(runtime, transport="http", resolve_principal=http_principal)
    app = server.streamable_http_app(
        transport_security=transport_security(host, port),
        host=host,
        auth=auth_settings(host, port),
        token_verifier=BearerVerifier(cache),
        session_idle_timeout=limits.idle_seconds,
        max_sessions=limits.max_sessions,
    )
    (endpoint,) = [r for r in app.routes if isinstance(r, Route) and r.path == MCP_PATH]
    # Route.app is the endpoint behind the app-wide authentication middleware.
    endpoint.app = SessionLimits(
        endpoint.app, SdkSessions(server.session_manager), limits.per_principal
    )
    return ExplainUnauthorized(app, cache, runtime.audit_if_open)
