"""Running the async storage from synchronous CLI commands.

The CLI uses the very same storage classes as the server (one driver, one set of rules), so each
command runs its storage work through :func:`run`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)``; when this thread already runs an event loop (a test driving the
    CLI in-process from an async test), on a thread of its own, since a loop cannot nest."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="mopsgate-cli") as pool:
        return pool.submit(asyncio.run, main).result()
