"""``[notifications]`` in the manifest: a webhook URL that is a credential never sits in the
file, every mistake is refused at its line, and the payload renderers carry what they say."""

from __future__ import annotations

from typing import Any

import pytest

from mopsgate.governance.notify_events import Notification, retry_delay
from mopsgate.governance.notify_render import slack_body
from tests.governance.test_manifest import BASE, problems

GOOD = """
[notifications]
give_up_after_hours = 48
[notifications.targets.mops-slack]
format = "slack"
url_env = "MOPSGATE_SLACK_WEBHOOK_URL"
events = ["change.awaiting_review", "applies.frozen"]
reviewers = ["lead"]
[notifications.targets.relay]
format = "json"
url = "https://relay.internal.example/mopsgate"
"""


def test_targets_load_with_their_settings() -> None:
    from mopsgate.governance.manifest_load import load_manifest_text
    from mopsgate.server.catalogue import build_catalogue

    m = load_manifest_text(BASE + GOOD, "m.toml", build_catalogue())
    slack = m.notifications.targets["mops-slack"]
    assert (slack.format, slack.url_env, slack.url) == ("slack", "MOPSGATE_SLACK_WEBHOOK_URL", None)
    assert m.notifications.targets["relay"].url == "https://relay.internal.example/mopsgate"
    assert m.notifications.give_up_after_hours == 48


@pytest.mark.parametrize(
    ("target", "says"),
    [
        (
            'format = "slack"\nurl = "https://chat.example/hooks/abc"',
            "a Slack webhook URL is a secret",
        ),
        ('format = "json"\nurl = "https://hooks.slack.com/services/T0/B0/xyz"', "url_env"),
        ('format = "json"\nurl = "https://relay.example/hook?key=abc"', "url_env"),
        ('format = "json"\nurl = "https://user:pw@relay.example/hook"', "password"),
        ('format = "json"', "exactly one of url_env"),
        ('format = "json"\nurl_env = "X"\nurl = "https://relay.example/h"', "exactly one"),
        ('format = "json"\nurl_env = "lower-case"', "environment variable"),
        ('format = "teams"\nurl_env = "X"', "format"),
        ('format = "json"\nurl_env = "X"\nevents = ["change.deleted"]', "events"),
        ('format = "json"\nurl_env = "X"\nreviewers = ["nobody"]', "unknown reviewer 'nobody'"),
    ],
)
def test_mistakes_are_refused_at_their_line(target: str, says: str) -> None:
    text = BASE + f"\n[notifications.targets.t]\n{target}\n"
    found = problems(text)
    assert found, target
    assert any(says in p.message for p in found), found
    header = text.splitlines().index("[notifications.targets.t]") + 1
    assert all(p.line >= header for p in found), found


def test_slack_text_is_escaped_and_links_the_console() -> None:
    note = Notification(
        "change.awaiting_review",
        "chg_1:awaiting_review",
        "2026-12-01T00:00:00+00:00",
        "change <chg_1> & more",
        to=("mops-lead",),
        link="http://localhost:8766/changes/chg_1",
        refs={"change_id": "chg_1"},
        counts={"records": 3},
    )
    body: Any = slack_body(note)
    text = body["blocks"][0]["text"]["text"]
    assert "&lt;chg_1&gt; &amp; more" in text and "<chg_1>" not in text
    assert "<http://localhost:8766/changes/chg_1|Open in the review console>" in text
    assert body["text"].startswith("change &lt;chg_1&gt;")


def test_backoff_grows_to_a_cap_with_jitter() -> None:
    low = [retry_delay(n, lambda: 0.0).total_seconds() for n in range(1, 12)]
    high = [retry_delay(n, lambda: 1.0).total_seconds() for n in range(1, 12)]
    assert low[:4] == [1, 2, 4, 8] and high[:4] == [2, 4, 8, 16]
    assert max(high) == 600 and high[-1] == 600
