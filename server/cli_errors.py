"""One boundary for every CLI command that touches the state database.

A locked or read-only database used to end ``review approve``, ``token create``, ``freeze`` and
the rest with a traceback ending in ``OperationalError: database is locked``. Every command is
wrapped here (``guard_commands``, applied to the whole CLI in ``cli.py``, so a new command is
covered without remembering to): a failure about the database becomes one line naming the cause
and what to do, and exit 1. Anything else is left alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import typer

from mopsgate.server.settings import load_settings
from mopsgate.storage import explain_failure

F = TypeVar("F", bound=Callable[..., Any])


def database_errors(command: F) -> F:
    @functools.wraps(command)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except Exception as exc:
            cfg = load_settings(None, kwargs.get("home")).storage()
            problem = explain_failure(cfg, exc)
            if problem is None:
                raise
            typer.echo(f"mopsgate: {problem.message} {problem.hint}", err=True)
            raise typer.Exit(1) from exc

    return guarded  # type: ignore[return-value]


def guard_commands(apps: Iterable[typer.Typer], *, except_names: Iterable[str] = ()) -> None:
    """Wrap every command registered on ``apps`` (before the CLI is built)."""
    skip = set(except_names)
    for app in apps:
        for info in app.registered_commands:
            name = info.name or (info.callback.__name__ if info.callback else "")
            if info.callback is not None and name not in skip:
                info.callback = database_errors(info.callback)
