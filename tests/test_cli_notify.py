"""`mopsgate notify test` and `notify send` against a real receiver: a Starlette app on a free
loopback port (nothing leaves the machine)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from typer.testing import CliRunner

from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.server.loopback import serving
from tests.server.notify_support import RELAY_ENV, SLACK_ENV, add_targets


class Received:
    def __init__(self) -> None:
        self.posts: list[tuple[str, dict[str, str], dict[str, Any]]] = []
        self.status = 200


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.fixture
def receiver_url(received: Received) -> Iterator[str]:
    async def hook(request: Request) -> Response:
        body = json.loads(await request.body())
        received.posts.append((request.url.path, dict(request.headers), body))
        return Response(status_code=received.status)

    def build(_: socket.socket) -> Any:
        return Starlette(routes=[Route("/{name}", hook, methods=["POST"])])

    with serving(build) as base:
        yield base


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
    assert _run(settings, "freeze", "--reason", "incident", "--by", "oncall").exit_code == 0
    result = _run(settings, "notify", "send")
    assert result.exit_code == 0, result.output
    events = sorted((path, body.get("event", "slack")) for path, _, body in received.posts)
    assert events == [("/relay", "applies.frozen"), ("/slack", "slack")]
    assert _run(settings, "notify", "send").exit_code == 0
    assert len(received.posts) == 2  # delivered once
