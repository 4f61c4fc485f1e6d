"""A progress bar for long CLI work (``audit verify`` on a million rows, ``audit export``).

Drawn on standard error when that is a terminal, so a person waiting sees how far it got; when
the output is piped or redirected (a cron job, CI, a script), nothing is drawn and the output is
exactly what it was. The bar refreshes when told of progress, never from a thread of its own:
``audit verify`` forks its checkers, which is only safe while no other thread runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as Bar

from mopsgate.governance.progress import Progress


@contextmanager
def progress_bar(what: str, unit: str) -> Iterator[Progress | None]:
    """A :class:`Progress` drawing ``what … done/total unit`` on a terminal; None elsewhere."""
    console = Console(stderr=True)
    if not console.is_terminal or console.is_dumb_terminal:
        yield None
        return
    bar = Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn(unit),
        TimeElapsedColumn(),
        console=console,
        auto_refresh=False,
        redirect_stdout=False,
        redirect_stderr=False,
    )
    task = bar.add_task(what, total=None)

    async def tell(progress: float, total: float | None = None, message: str | None = None) -> None:
        bar.update(task, completed=progress, total=total)
        bar.refresh()

    with bar:
        yield tell
