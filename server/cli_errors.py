"""One boundary for every CLI command that touches the state database.

A locked or read-only database used to end ``review approve``, ``token create``, ``freeze`` and
the rest with a traceback ending in ``OperationalError: database is locked``. Every command is
wrapped here (``guard_commands``, applied to the whole CLI in ``cli.py``, so a new command is
covered without remembering to): a failure about the database becomes one line naming the cause
and what to do, and exit 1. A file named on the command line that cannot be read or written
(``--out`` into a folder that does not exist) is one line too, and exit 2. Anything else is
left alone.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Annotated, Any, TypeVar, get_type_hints

import typer

from mopsgate.server.settings import DATABASE_URL_FLAG, SettingsError, load_settings
from mopsgate.storage import explain_failure

F = TypeVar("F", bound=Callable[..., Any])
DatabaseUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        help="postgresql://… for state shared by replicas (env MOPSGATE_DATABASE_URL; "
        "default: the SQLite file in the state directory).",
        show_default=False,
    ),
]


def database_errors(command: F) -> F:
    @functools.wraps(command)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except SettingsError as exc:  # a setting from the environment: say which, change nothing
            typer.echo(f"mopsgate: {exc}", err=True)
            raise typer.Exit(2) from exc
        except Exception as exc:
            settings = load_settings(None, kwargs.get("home"))
            problem = explain_failure(settings.storage(), exc)
            if problem is not None:
                typer.echo(f"mopsgate: {problem.message} {problem.hint}", err=True)
                raise typer.Exit(1) from exc
            if isinstance(exc, OSError) and exc.filename is not None:
                # The state directory, or a file named on the command line (--out, -o, a file
                # to read): say which.
                typer.echo(f"mopsgate: {_file_problem(exc, settings.home)}", err=True)
                raise typer.Exit(2) from exc
            raise

    return guarded  # type: ignore[return-value]


def _file_problem(exc: OSError, home: Path) -> str:
    why = exc.strerror or type(exc).__name__
    failed = Path(str(exc.filename))
    # Making the state directory failed at it, or at a parent that is not there to be used (an
    # existing folder named here is an output path: "a folder, not a file").
    if failed == home or (failed in home.parents and not failed.is_dir()):
        return (
            f"cannot set up the state directory {home} ({exc.filename}: {why}); pass --home (or "
            "set MOPSGATE_HOME) naming a folder you may write, or create it first"
        )
    if isinstance(exc, FileNotFoundError):
        return f"{exc.filename}: {why} (check the path; its folder must exist already)"
    if isinstance(exc, IsADirectoryError):
        return f"{exc.filename}: {why} (name a file, not a folder)"
    return f"{exc.filename}: {why} (check the path and its permissions)"


def guard_commands(apps: Iterable[typer.Typer], *, except_names: Iterable[str] = ()) -> None:
    """Wrap every command registered on ``apps`` (before the CLI is built)."""
    skip = set(except_names)
    for app in apps:
        for info in app.registered_commands:
            name = info.name or (info.callback.__name__ if info.callback else "")
            if info.callback is not None and name not in skip:
                info.callback = database_errors(info.callback)


def with_database_url(command: F) -> F:
    """Give a command that takes ``--home`` a ``--database-url`` too: the state a command opens
    is the database, wherever it is. The value holds for the command's duration
    (``settings.DATABASE_URL_FLAG``), so every ``load_settings`` inside it sees it."""
    signature = inspect.signature(command, eval_str=True)
    if "home" not in signature.parameters or "database_url" in signature.parameters:
        return command

    @functools.wraps(command)
    def with_url(*args: Any, database_url: str | None = None, **kwargs: Any) -> Any:
        token = DATABASE_URL_FLAG.set(database_url)
        try:
            return command(*args, **kwargs)
        finally:
            DATABASE_URL_FLAG.reset(token)

    option = inspect.Parameter(
        "database_url", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=DatabaseUrlOpt
    )
    with_url.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), option]
    )
    hints = get_type_hints(command, include_extras=True)
    with_url.__annotations__ = {**hints, "database_url": DatabaseUrlOpt}
    return with_url  # type: ignore[return-value]


def add_database_url(apps: Iterable[typer.Typer]) -> None:
    """:func:`with_database_url` on every command registered on ``apps`` (after
    :func:`guard_commands`, so its explanation of a failure names the same database)."""
    for app in apps:
        for info in app.registered_commands:
            if info.callback is not None:
                info.callback = with_database_url(info.callback)
