"""A runtime whose vendor clients retry without waiting, so a fault that outlasts every retry
costs milliseconds, not the backoff a real outage would get."""

from __future__ import annotations

from mopsgate.connectors.http import RetryPolicy
from mopsgate.server.app import Runtime, build_runtime
from mopsgate.server.settings import Settings


async def _no_sleep(_seconds: float) -> None:
    return None


def no_wait_retry() -> RetryPolicy:
    return RetryPolicy(sleep=_no_sleep, jitter=lambda: 0.5)


def no_wait_runtime(settings: Settings) -> Runtime:
    return build_runtime(settings, env={}, client_options={"retry": no_wait_retry()})
