"""``mopsgate sandbox``: serve the three emulators on loopback ports (so any client — curl, a
vendor SDK, another tool — can be pointed at the same data mopsgate uses in-process), restore
the seeded data, and say what changed since.

The data lives in ``<MOPSGATE_HOME>/sandbox.db``, shared with every mopsgate server on that
state directory: a change applied through mopsgate shows here, and a reset shows there at its
next request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import typer

from mopsgate.server.settings import ensure_home, load_settings

sandbox_app = typer.Typer(no_args_is_help=True, help="The sandbox emulators and their data.")

VENDORS = ("marketo", "hubspot", "salesforce")
DEFAULT_PORTS = {"marketo": 8801, "hubspot": 8802, "salesforce": 8803}
SHOWN = 10  # changed records described per table by ``status``
T = TypeVar("T")

HomeOpt = Annotated[
    str | None,
    typer.Option("--home", help="State directory (env MOPSGATE_HOME, default ./.mopsgate)."),
]


def _store(home: str | None) -> Any:
    from mopsgate.sandbox.vendors import open_store

    settings = load_settings(None, home)
    ensure_home(settings)
    return open_store(settings.home)


def _guarded(store: Any, action: Callable[[], T]) -> T:
    """One line instead of a traceback when the sandbox file cannot be used."""
    from mopsgate.sandbox.persist.store import SandboxFileError

    try:
        return action()
    except (SandboxFileError, OSError) as exc:
        typer.echo(f"mopsgate: the sandbox at {store.path} cannot be used: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        store.close()


@sandbox_app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="bind address (loopback only)")] = "127.0.0.1",
    base_port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65533,
            help="marketo on this port, hubspot +1, salesforce +2 (0: any free ports)",
        ),
    ] = 8801,
    memory: Annotated[
        bool, typer.Option("--memory", help="serve a throwaway in-memory copy of the seed")
    ] = False,
    tls: Annotated[
        bool,
        typer.Option("--tls", help="https, with a self-signed certificate made at start"),
    ] = False,
    home: HomeOpt = None,
) -> None:
    """Serve the Marketo, HubSpot and Salesforce emulators until Ctrl-C."""
    import uvicorn

    from mopsgate.sandbox.vendors import new_emulator

    if host not in ("127.0.0.1", "localhost", "::1"):
        typer.echo("mopsgate: the sandbox only binds loopback addresses", err=True)
        raise typer.Exit(2)
    settings = load_settings(None, home)
    ensure_home(settings)
    store = None if memory else _store(home)
    ssl: dict[str, Any] = {}
    if tls:
        from mopsgate.sandbox.tls import self_signed

        cert, key = self_signed(settings.home / "sandbox-tls")
        ssl = {"ssl_certfile": str(cert), "ssl_keyfile": str(key)}
    servers = []
    for offset, name in enumerate(VENDORS):
        port = base_port + offset if base_port else 0
        app = new_emulator(name, store).app
        config = uvicorn.Config(
            app, host=host, port=port, log_level="warning", lifespan="off", **ssl
        )
        servers.append((name, uvicorn.Server(config)))
    where = "in memory (nothing is kept)" if store is None else str(store.path)
    typer.echo(f"sandbox data: {where}", err=True)
    if tls:
        typer.echo(f"certificate (trust this file): {ssl['ssl_certfile']}", err=True)
    scheme = "https" if tls else "http"
    typer.echo(
        "sandbox credentials: marketo client_id/secret 'sandbox'; hubspot token "
        "'pat-sandbox'; salesforce client_id/secret 'sandbox'",
        err=True,
    )

    async def run_all() -> None:
        tasks = [asyncio.create_task(s.serve()) for _n, s in servers]
        while not all(s.started for _n, s in servers) and not any(t.done() for t in tasks):
            await asyncio.sleep(0.02)
        for name, s in servers:
            if s.started:
                port = s.servers[0].sockets[0].getsockname()[1]
                typer.echo(f"{name:<11} {scheme}://{host}:{port}", err=True)
        await asyncio.gather(*tasks)

    try:
        asyncio.run(run_all())
    finally:
        if store is not None:
            store.close()


@sandbox_app.command("reset")
def reset(
    seed: Annotated[
        int | None, typer.Option(help="RNG seed of the data (default: the shipped one)")
    ] = None,
    people: Annotated[
        int | None, typer.Option(help="how many people (default 2,400)", min=10, max=100_000)
    ] = None,
    home: HomeOpt = None,
) -> None:
    """Restore the seeded data; running servers see it at their next request."""
    from mopsgate.sandbox.seed import N_PEOPLE, SEED

    store = _store(home)
    done = _guarded(store, lambda: store.reset(seed or SEED, people or N_PEOPLE))
    typer.echo(
        f"sandbox reset: {store.path} holds the seed {done.seed} with {done.people:,} people"
    )


@sandbox_app.command("status")
def status(home: HomeOpt = None) -> None:
    """What changed in the sandbox since it was seeded (or last reset)."""
    from mopsgate.sandbox.persist.status import changes

    store = _store(home)

    def read() -> tuple[Any, list[Any]]:
        return store.seeding(), changes(store)

    seeding, found = _guarded(store, read)
    typer.echo(
        f"sandbox {store.path}: seed {seeding.seed}, {seeding.people:,} people, "
        f"seeded {seeding.seeded_at}"
    )
    for vendor in VENDORS:
        mine = [t for t in found if t.vendor == vendor and t.any]
        if not mine:
            typer.echo(f"{vendor}: unchanged")
            continue
        typer.echo(f"{vendor}: " + "; ".join(_summary(t) for t in mine))
        for t in mine:
            for key, what in list(t.changed.items())[:SHOWN]:
                typer.echo(f"  {t.noun} {key}: " + ", ".join(what))
            if len(t.changed) > SHOWN:
                typer.echo(f"  ... and {len(t.changed) - SHOWN} more {t.noun}s changed")


def _summary(t: Any) -> str:
    parts = [
        f"{len(keys)} {t.noun}{'s' if len(keys) != 1 else ''} {verb}"
        for keys, verb in ((t.changed, "changed"), (t.added, "added"), (t.removed, "removed"))
        if keys
    ]
    return ", ".join(parts)
