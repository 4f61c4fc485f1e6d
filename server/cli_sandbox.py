"""``mopsgate sandbox serve``: the three emulators on loopback ports, so any client (curl, a
vendor SDK, another tool) can be pointed at the same synthetic data mopsgate uses in-process."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

sandbox_app = typer.Typer(no_args_is_help=True, help="The sandbox emulators.")

DEFAULT_PORTS = {"marketo": 8801, "hubspot": 8802, "salesforce": 8803}


@sandbox_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="bind address (loopback only)")] = "127.0.0.1",
    base_port: Annotated[
        int, typer.Option(help="marketo on this port, hubspot +1, salesforce +2")
    ] = 8801,
) -> None:
    """Serve the Marketo, HubSpot and Salesforce emulators until Ctrl-C."""
    import uvicorn

    from mopsgate.server.registry import ConnectorRegistry

    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo("mopsgate: the sandbox only binds loopback addresses", err=True)
        raise typer.Exit(2)
    servers = []
    emulators = ConnectorRegistry(lambda: {}, {})
    for offset, name in enumerate(("marketo", "hubspot", "salesforce")):
        port = base_port + offset
        app = emulators.emulator(name).app
        config = uvicorn.Config(app, host=host, port=port, log_level="warning")
        servers.append(uvicorn.Server(config))
        typer.echo(f"{name:<11} http://{host}:{port}", err=True)
    typer.echo(
        "sandbox credentials: marketo client_id/secret 'sandbox'; hubspot token "
        "'pat-sandbox'; salesforce client_id/secret 'sandbox'",
        err=True,
    )

    async def run_all() -> None:
        await asyncio.gather(*(s.serve() for s in servers))

    asyncio.run(run_all())
