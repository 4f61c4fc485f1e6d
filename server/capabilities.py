"""Advertise exactly what mopsgate serves — tools — and answer client mistakes with JSON-RPC codes.

``MCPServer`` always registers prompt and resource handlers and derives its capabilities from
what is registered, so out of the box a 2025-era handshake says ``tools.listChanged: false``
(although we send ``notifications/tools/list_changed`` on every manifest reload) and a 2026-era
``server/discover`` claims prompts and resources, with subscribe and listChanged, that do not
exist. Clients believe capabilities: one that trusts ``listChanged: false`` never re-lists after
a reload, one that trusts ``prompts`` shows an empty prompt menu and asks for prompts that fail.

This middleware sits outermost, in front of the governed pipeline. It refuses the methods of the
capabilities we do not offer with the standard -32601 (the SDK would answer an unknown prompt
with error code 0 and a traceback in our log), rewrites the capabilities of ``initialize`` and
``server/discover`` results, and logs every JSON-RPC error a client caused as one line. The
middleware API is public (if provisional) in the SDK; no SDK internals are touched.
"""

from __future__ import annotations

import logging
from typing import Any

from mcp.shared.exceptions import MCPError
from mcp.types import METHOD_NOT_FOUND

log = logging.getLogger("mopsgate.protocol")

NOT_SERVED = ("prompts/", "resources/")
RESULTS_WITH_CAPABILITIES = frozenset({"initialize", "server/discover"})
TOOLS_CAPABILITY = {"listChanged": True}


def honest_capabilities(capabilities: dict[str, Any]) -> dict[str, Any]:
    """Tools with listChanged (in every era we send it), nothing about prompts or resources."""
    caps = {k: v for k, v in capabilities.items() if k not in ("prompts", "resources")}
    caps["tools"] = dict(TOOLS_CAPABILITY)
    return caps


def _client(ctx: Any) -> str:
    params = getattr(ctx.session, "client_params", None)
    info = getattr(params, "client_info", None)
    return str(getattr(info, "name", None) or "unnamed client")


def log_client_error(ctx: Any, error: MCPError) -> None:
    """One line per client mistake: enough to see who keeps sending what, never a traceback."""
    log.info(
        "JSON-RPC error %d on %s from %s: %s",
        error.code,
        ctx.method,
        _client(ctx),
        error.message[:200],
    )


class ServedSurface:
    """Server middleware: see the module docstring."""

    async def __call__(self, ctx: Any, call_next: Any) -> Any:
        method = str(ctx.method)
        if method.startswith(NOT_SERVED):
            error = MCPError(code=METHOD_NOT_FOUND, message="Method not found", data=method)
            log_client_error(ctx, error)
            raise error
        try:
            result = await call_next(ctx)
        except MCPError as error:
            log_client_error(ctx, error)
            raise
        if method in RESULTS_WITH_CAPABILITIES and isinstance(result, dict):
            caps = result.get("capabilities")
            if isinstance(caps, dict):
                result = {**result, "capabilities": honest_capabilities(caps)}
        return result
