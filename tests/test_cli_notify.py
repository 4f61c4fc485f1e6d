"""`mopsgate notify test` and `notify send` against a real receiver: a Starlette app on a free
loopback port (nothing leaves the machine)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from typer.testing import CliRunner

from mopsgate.governance.outbox import PARKED, Settlement
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from mopsgate.storage import open_storage
from tests.conftest import audit_rows
from tests.server.loopback import serving
from tests.server.notify_support import RELAY_ENV, SLACK_ENV, add_targets


class Received:
    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.status = 200


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[str, Received]]:
    """The receiver, one for the module; what it received is emptied for each test."""
    inbox = Received()

    async def hook(request: Request) -> Response:
        body = json.loads(await request.body())
        inbox.posts.append((request.url.path, dict(request.headers), body))
        return Response(status_code=inbox.status)

    def build(_: socket.socket) -> Any:
        return Starlette(routes=[Route("/{name}", hook, methods=["POST"])])

    with serving(build) as base:
        yield base, inbox


@pytest.fixture
def received(receiver: tuple[str, Received]) -> Received:
    inbox = receiver[1]
    inbox.posts.clear()
    inbox.status = 200
    return inbox


@pytest.fixture
def receiver_url(receiver: tuple[str, Received]) -> str:
    return receiver[0]


@pytest.fixture
def targets(
    manifest_path: Path, receiver_url: str, monkeypatch: pytest.MonkeyPatch
) -> pytest.MonkeyPatch:
    """Both targets in the manifest, the relay's URL set; the Slack one is for the test to set."""
    add_targets(manifest_path)
    monkeypatch.setenv(RELAY_ENV, f"{receiver_url}/relay")
    monkeypatch.delenv(SLACK_ENV, raising=False)
    return monkeypatch


def _run(settings: Settings, *args: str) -> Any:
    opts = ["--manifest", str(settings.manifest_path)]
    if args[:2] != ("notify", "test"):
        opts += ["--home", str(settings.home)]
    return CliRunner().invoke(app, [*args, *opts])


def test_notify_test_reports_per_target(
    settings: Settings, targets: pytest.MonkeyPatch, receiver_url: str, received: Received
) -> None:
    result = _run(settings, "notify", "test")
    assert result.exit_code == 1, result.output
    assert "relay (json): delivered: HTTP 200" in result.output
    assert f"mops-slack (slack): not sent: {SLACK_ENV} is not set" in result.output
    ((path, headers, body),) = received.posts
    assert path == "/relay" and body["event"] == "test"
    assert headers["idempotency-key"] == body["key"]

    targets.setenv(SLACK_ENV, f"{receiver_url}/slack")
    received.status = 500
    result = _run(settings, "notify", "test", "--target", "mops-slack")
    assert result.exit_code == 1 and "mops-slack (slack): FAILED: HTTP 500" in result.output
    assert set(received.posts[-1][2]) == {"text", "blocks"}

    received.status = 204
    result = _run(settings, "notify", "test")
    assert result.exit_code == 0, result.output
    assert result.output.count("delivered: HTTP 204") == 2


def test_notify_test_without_targets_says_how_to_add_one(settings: Settings) -> None:
    result = _run(settings, "notify", "test")
    assert result.exit_code == 1
    assert "has no [notifications.targets.*]" in result.output


def test_a_freeze_from_the_cli_is_sent_by_notify_send(
    settings: Settings, targets: pytest.MonkeyPatch, receiver_url: str, received: Received
) -> None:
    """No server runs: the CLI's audit row queued the notice, `notify send` delivers it."""
    targets.setenv(SLACK_ENV, f"{receiver_url}/slack")
    made = CliRunner().invoke(app, ["db", "upgrade", "--home", str(settings.home)])
    assert made.exit_code == 0, made.output  # the state directory a server would have made
    assert _run(settings, "freeze", "--reason", "incident", "--by", "oncall").exit_code == 0
    result = _run(settings, "notify", "send")
    assert result.exit_code == 0, result.output
    events = sorted((path, body.get("event", "slack")) for path, _, body in received.posts)
    assert events == [("/relay", "applies.frozen"), ("/slack", "slack")]
    assert _run(settings, "notify", "send").exit_code == 0
    assert len(received.posts) == 2  # delivered once


def _park_everything(settings: Settings) -> int:
    """What 24 hours of a refusing receiver leaves: every delivery parked with its error."""

    async def park() -> int:
        storage = await open_storage(settings.storage())
        try:
            items = await storage.outbox.claim_due(
                datetime.now(UTC) + timedelta(days=2), limit=100, lease=timedelta(seconds=60)
            )
            at = datetime.now(UTC)
            await storage.outbox.settle(
                [Settlement(i.id, PARKED, f"gave up: {i.last_error}") for i in items], at=at
            )
            return len(items)
        finally:
            await storage.close()

    return asyncio.run(park())


def test_parked_messages_are_listed_and_requeued(
    settings: Settings, targets: pytest.MonkeyPatch, receiver_url: str, received: Received
) -> None:
    targets.setenv(SLACK_ENV, f"{receiver_url}/slack")
    received.status = 500
    made = CliRunner().invoke(app, ["db", "upgrade", "--home", str(settings.home)])
    assert made.exit_code == 0, made.output  # the state directory a server would have made
    assert _run(settings, "freeze", "--reason", "incident", "--by", "oncall").exit_code == 0
    assert _run(settings, "notify", "send").exit_code == 0
    listed = _run(settings, "notify", "list")
    assert listed.exit_code == 0, listed.output
    assert len(re.findall(r"^\d+ +pending ", listed.output, re.M)) == 2
    assert "HTTP 500" in listed.output
    assert "relay" in listed.output and "mops-slack" in listed.output
    assert "incident" not in listed.output  # what a message says is never listed
    assert "2 pending, 0 parked." in listed.output

    assert _park_everything(settings) == 2
    parked = _run(settings, "notify", "list", "--parked")
    assert len(re.findall(r"^\d+ +parked ", parked.output, re.M)) == 2
    assert "gave up: HTTP 500" in parked.output
    assert "0 pending, 2 parked. Try parked ones again" in parked.output

    neither = _run(settings, "notify", "requeue")
    assert neither.exit_code == 2 and "or pass --all-parked" in neither.output
    unknown = _run(settings, "notify", "requeue", "999")
    assert unknown.exit_code == 1 and "no unsent message 999" in unknown.output
    received.status = 200
    again = _run(settings, "notify", "requeue", "--all-parked", "--by", "oncall")
    assert again.exit_code == 0 and "Requeued 2 message(s)" in again.output
    rows = [r for r in audit_rows(settings) if r["tool"] == "notify requeue"]
    assert [(r["kind"], r["outcome"]) for r in rows] == [
        ("notification", "refused"),
        ("notification", "refused"),
        ("notification", "ok"),
    ]
    assert rows[-1]["principal"] == "oncall" and "requeued 2" in rows[-1]["result_summary"]

    assert _run(settings, "notify", "send").exit_code == 0
    assert sorted(path for path, _, _ in received.posts[-2:]) == ["/relay", "/slack"]
    assert "Nothing waits" in _run(settings, "notify", "list").output
