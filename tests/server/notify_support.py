"""A webhook receiver for the notification tests (an ``httpx.MockTransport``: nothing leaves the
process) and the manifest tables that point targets at it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from mopsgate.server.app import Runtime

SLACK_ENV, RELAY_ENV = "MOPSGATE_TEST_SLACK_URL", "MOPSGATE_TEST_RELAY_URL"
ENV = {
    SLACK_ENV: "http://receiver.test/slack/T000/B000/secret",
    RELAY_ENV: "http://receiver.test/relay",
}
TARGETS = f"""
[notifications.targets.mops-slack]
format = "slack"
url_env = "{SLACK_ENV}"

[notifications.targets.relay]
format = "json"
url_env = "{RELAY_ENV}"
"""


@dataclass(frozen=True)
class Seen:
    target: str  # the last path segment that names it: "slack" or "relay"
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def event(self) -> str:
        return self.headers["x-mopsgate-event"]

    @property
    def key(self) -> str:
        return self.headers["idempotency-key"]


@dataclass
class Receiver:
    """Records every POST; answers each with the next scripted status (200 once the script is
    used up), or as a dead host when ``dead``."""

    script: list[int] = field(default_factory=list)
    dead: bool = False
    seen: list[Seen] = field(default_factory=list)
    attempts: int = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.attempts += 1
        if self.dead:
            raise httpx.ConnectError("connection refused", request=request)
        target = "slack" if "/slack/" in request.url.path else "relay"
        self.seen.append(Seen(target, dict(request.headers), json.loads(request.content)))
        return httpx.Response(self.script.pop(0) if self.script else 200)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def events(self, target: str) -> list[str]:
        return [s.event for s in self.seen if s.target == target]


def add_targets(manifest: Path, text: str = TARGETS) -> None:
    with manifest.open("a", encoding="utf-8") as fh:
        fh.write(text)


class StepClock:
    """Wall time that moves only when the test says (starting now, so notices queued by the
    audit writer at real time are already due)."""

    def __init__(self) -> None:
        self.at = datetime.now(UTC) + timedelta(minutes=5)

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return self.at.timestamp()

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)


async def drain(runtime: Runtime, clock: StepClock | None = None) -> int:
    """Run the sender until nothing is due (what the background task does, without waiting)."""
    notifier = runtime.notifier
    assert notifier is not None, "the runtime is not open"
    if clock is not None:
        notifier.clock = clock
    handled = 0
    while busy := await notifier.run_once():
        handled += busy
    return handled
