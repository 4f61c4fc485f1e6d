"""The baseline: a bare ``MCPServer`` with the same connector calls and no governance.

``noop`` is the SDK floor. ``get_person`` and ``list_lists`` are the connector calls the governed
tools make, registered as plain tools. ``whoami`` is the governed tool's own handler and output
model run without the pipeline, so governed ``whoami`` minus bare ``whoami`` is the pipeline's
cost and nothing else (same handler, same output schema, same client-side validation).

``python -m bench.bare PORT MANIFEST`` serves it over streamable HTTP (the HTTP baseline).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mcp.server import MCPServer

from mopsgate.crm.records import Page, Person, PersonList
from mopsgate.tools.identity import NoInput, WhoAmI
from mopsgate.tools.identity import whoami as whoami_handler

Twin = Callable[[], Any]  # builds the ToolContext the twin handlers run with


def build_bare_server(connectors: Any, twin_ctx: Twin | None = None) -> MCPServer:
    server = MCPServer("bare", log_level="WARNING")

    @server.tool()
    async def noop() -> str:
        return "ok"

    @server.tool()
    async def get_person(ref: str) -> Person:
        person: Person = await connectors.get(ref.split(":", 1)[0]).get_person(ref)
        return person

    @server.tool()
    async def list_lists(connector: str, limit: int = 50) -> Page[PersonList]:
        page: Page[PersonList] = await connectors.get(connector).list_lists(limit=limit)
        return page

    if twin_ctx is not None:
        make_ctx = twin_ctx

        @server.tool()
        async def whoami() -> WhoAmI:
            return await whoami_handler(make_ctx(), NoInput())

    return server


def twin_context(manifest_path: Path, connectors: Any, principal: str = "assistant") -> Twin:
    """A ToolContext like the pipeline builds, made once per call but never decided on,
    validated or audited."""
    from mopsgate.governance.manifest_load import load_manifest, manifest_digest
    from mopsgate.server.catalogue import build_catalogue
    from mopsgate.tools.spec import CallNotes, ToolContext

    manifest = load_manifest(manifest_path, build_catalogue())
    digest = manifest_digest(manifest)

    def make() -> ToolContext:
        return ToolContext(
            principal=principal,
            manifest=manifest,
            manifest_digest=digest,
            connectors=connectors,
            notes=CallNotes(),
        )

    return make


def standalone_registry() -> Any:
    """Connectors over fast in-process emulators, for a bare server in its own process."""
    from bench.common import fast_client_options, fast_emulators
    from mopsgate.server.registry import ConnectorRegistry

    envs = {"marketo": "sandbox", "hubspot": "sandbox", "salesforce": "sandbox"}
    return ConnectorRegistry(
        lambda: envs, {}, emulators=fast_emulators(), client_options=fast_client_options()
    )


def main(argv: list[str]) -> None:
    from bench.common import HOST, quiet

    quiet()
    port, manifest = int(argv[0]), Path(argv[1])
    registry = standalone_registry()
    server = build_bare_server(registry, twin_context(manifest, registry))
    # Same uvicorn settings and the same garbage collector settings (those `mopsgate serve`
    # runs with) as bench.http_server, so only the app differs.
    import uvicorn

    from mopsgate.server.serve_run import serving_collector

    app = server.streamable_http_app(host=HOST)
    serving_collector()
    uvicorn.run(app, host=HOST, port=port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main(sys.argv[1:])
