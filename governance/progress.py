"""Progress of long work: how a 10,000-record plan or apply, or a million-row verification,
says how far it got before it ends.

The core knows nothing of who listens. The MCP surface hands a :class:`Progress` down (the
request's progress notification, a no-op when the client gave no progress token); the CLI hands
one that draws a bar on a terminal. Work that has no listener gets none and pays nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Progress(Protocol):
    """Told ``progress`` of ``total`` units done, with a line a person can read. ``progress``
    only ever grows within one operation (MCP requires it)."""

    async def __call__(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None: ...


@dataclass
class Steps:
    """Counts one operation's units against its total and tells ``report`` after each step.
    An operation with phases (an apply re-reads every record, then writes it) counts every
    phase's units toward one total, so the fraction done never goes back."""

    report: Progress | None
    total: int
    done: int = 0

    async def advance(self, units: int, message: str) -> None:
        """Count ``units`` more done; a step that moves nothing is not reported."""
        done = min(self.total, self.done + units)
        if done <= self.done:
            return
        self.done = done
        if self.report is not None:
            await self.report(done, self.total, message)


async def advance(steps: Steps | None, units: int, message: str) -> None:
    """:meth:`Steps.advance` for work that may have nobody listening."""
    if steps is not None:
        await steps.advance(units, message)
