"""Webhook notifications (#14 item 4, #10 item 5), end to end: tool calls, CLI decisions and
freezes are audited, the audit writer queues a notice with each row that matters, and the
sender delivers one payload per target, at least once, with a stable Idempotency-Key and never
a person's data. The receiver is an ``httpx.MockTransport``; nothing leaves the process."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from typer.testing import CliRunner

from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.seed import seed_data
from mopsgate.server.app import Runtime, build_runtime, build_server
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.server.e2e_support import approve, review
from tests.server.notify_support import (
    ENV,
    Receiver,
    StepClock,
    add_targets,
    drain,
)
from tests.server.test_changes_kit import (
    MK,
    OPT_OUT_FIELD,
    REASON,
    apply,
    ok,
    people,
    propose_titles,
    refused,
)
from tests.support.no_wait import no_wait_retry

CONSOLE = "https://review.example.test"


def _cli(settings: Settings, *args: str) -> None:
    opts = ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    result = CliRunner().invoke(app, [*args, *opts])
    assert result.exit_code == 0, result.output


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
def notifying(
    settings: Settings, manifest_path: Path, receiver: Receiver
) -> Callable[..., tuple[Runtime, Callable[[str], Client]]]:
    """A runtime whose sender posts to ``receiver``; the test drives the sender (``drain``)."""

    def build(targets: str | None = None) -> tuple[Runtime, Callable[[str], Client]]:
        if targets is None:
            add_targets(manifest_path)
        else:
            add_targets(manifest_path, targets)
        env = {**ENV, "MOPSGATE_CONSOLE_URL": CONSOLE}
        runtime = build_runtime(
            settings,
            env=env,
            notify_options={"transport": receiver.transport()},
            client_options={"retry": no_wait_retry()},  # injected faults: no backoff waits
        )
        runtime.notify_background = False

        def connect(principal: str) -> Client:
            server = build_server(
                runtime, transport="memory", resolve_principal=lambda _: principal
            )
            return Client(server, raise_exceptions=True)

        return runtime, connect

    return build


def _by_event(receiver: Receiver, target: str) -> dict[str, dict[str, Any]]:
    return {s.event: s.body for s in receiver.seen if s.target == target}


async def test_every_event_kind_reaches_every_target(notifying, receiver: Receiver, settings):
    runtime, connect = notifying()
    emu = runtime.connectors.emulator("marketo")
    idxs = people("subscribed", 4)
    async with connect("assistant") as client:
        applied = await propose_titles(client, MK, idxs[:2])
        await drain(runtime)
        approve(settings, applied["change_id"])
        assert not (await apply(client, applied)).is_error
        failing = await propose_titles(client, MK, idxs[2:3], "Head of Failures")
        approve(settings, failing["change_id"])
        emu.core.faults.fail_after_writes = 0
        assert (await apply(client, failing)).is_error
        emu.core.faults.fail_after_writes = None
        stale = await propose_titles(client, MK, idxs[3:], "Head of Staleness")
        approve(settings, stale["change_id"])
        emu.set_person_field(MK.native(idxs[3]), MK.title_field, "Edited By Hand")
        assert (await apply(client, stale)).is_error
        rejected = await propose_titles(client, MK, idxs[:1], "Head of Rejections")
        assert (
            review(
                settings,
                "reject",
                rejected["change_id"],
                "--reviewer",
                "compliance",
                "--reason",
                "no",
            ).exit_code
            == 0
        )
        await refused(
            client,
            "propose_update_person",
            refs=[MK.ref(people("opted_out", 1)[0])],
            fields={OPT_OUT_FIELD["marketo"]: False},
            reason="The user says this person wants the newsletter again",
        )
        _cli(settings, "freeze", "--reason", "incident 42", "--by", "oncall")
        _cli(settings, "unfreeze", "--by", "oncall")
        await drain(runtime)

    expected = {
        "change.awaiting_review",
        "change.approved",
        "change.applied",
        "change.failed",
        "change.stale",
        "change.rejected",
        "compliance_floor.refused",
        "applies.frozen",
        "applies.unfrozen",
    }
    assert set(receiver.events("relay")) == expected
    assert set(receiver.events("slack")) == expected
    relay = _by_event(receiver, "relay")
    review_body = next(
        s.body
        for s in receiver.seen
        if s.target == "relay"
        and s.event == "change.awaiting_review"
        and s.body["refs"]["change_id"] == applied["change_id"]
    )
    assert review_body["link"] == f"{CONSOLE}/changes/{applied['change_id']}"
    assert review_body["to"] == ["compliance", "mops-lead"]  # both may approve update_fields
    assert review_body["refs"]["risk_class"] == "update_fields"
    assert review_body["counts"] == {"records": 2, "blocked": 0, "approvals_needed": 1}
    assert relay["change.applied"]["counts"]["written"] == 2
    assert relay["change.failed"]["refs"]["change_id"] == failing["change_id"]
    assert relay["change.stale"]["refs"]["change_id"] == stale["change_id"]
    assert relay["change.rejected"]["refs"]["by"] == "compliance"
    assert relay["applies.frozen"]["refs"]["by"] == "oncall"
    assert "incident 42" not in json.dumps(relay["applies.frozen"])  # free text stays out
    floor = relay["compliance_floor.refused"]
    assert floor["refs"]["tool"] == "propose_update_person" and floor["refs"]["audit_seq"]
    for seen in receiver.seen:  # the Idempotency-Key is the key the body names
        assert seen.key in (seen.body["key"] if seen.target == "relay" else json.dumps(seen.body))
    slack = _by_event(receiver, "slack")["change.awaiting_review"]
    assert set(slack) == {"text", "blocks"}
    assert "Open in the review console" in json.dumps(slack)


async def test_no_payload_carries_a_person(notifying, receiver: Receiver, settings):
    """Emails, names and companies of the people a change touches, the people the floor
    blocked and the owner of a record appear in no body, header or URL."""
    runtime, connect = notifying()
    touched = people("subscribed", 2)
    blocked = people("opted_out", 2)
    async with connect("assistant") as client:
        plan = await propose_titles(client, MK, touched)
        approve(settings, plan["change_id"])
        assert not (await apply(client, plan)).is_error
        await refused(
            client,
            "propose_update_person",
            refs=[MK.ref(i) for i in blocked],
            fields={OPT_OUT_FIELD["marketo"]: False},
            reason=f"Re-subscribe {seed_data().people[blocked[0]].email} please",
        )
        await ok(
            client,
            "propose_add_to_list",
            list_ref=mk.list_ref(0),
            person_refs=[MK.ref(i) for i in (*touched, *blocked)],
            reason=REASON,
        )
        await drain(runtime)
    assert len(receiver.seen) >= 8
    data = seed_data()
    everything = json.dumps([[s.headers, s.body] for s in receiver.seen]).lower()
    for idx in (*touched, *blocked):
        person = data.people[idx]
        for value in (person.email, f"{person.first_name} {person.last_name}", person.company):
            assert value.lower() not in everything, value
        assert not re.search(rf"\b{re.escape(person.last_name.lower())}\b", everything)
    assert "@" not in everything


async def test_retried_after_500s_with_the_same_key_then_done(
    notifying, receiver: Receiver, settings
):
    relay_only = (
        '\n[notifications.targets.relay]\nformat = "json"\nurl_env = "MOPSGATE_TEST_RELAY_URL"\n'
    )
    runtime, connect = notifying(relay_only)
    receiver.script = [500, 503]
    clock = StepClock()
    async with connect("assistant") as client:
        await propose_titles(client, MK, people("subscribed", 1))
        await drain(runtime, clock)
        assert [s.event for s in receiver.seen] == ["change.awaiting_review"]  # 500
        clock.advance(seconds=0.9)  # backoff: no attempt before about a second has passed
        await drain(runtime, clock)
        assert len(receiver.seen) == 1
        clock.advance(seconds=2)
        await drain(runtime, clock)  # 503
        assert len(receiver.seen) == 2
        clock.advance(seconds=1.9)  # the second wait is longer (2-4 s)
        await drain(runtime, clock)
        assert len(receiver.seen) == 2
        clock.advance(seconds=2.2)
        await drain(runtime, clock)  # 200
        clock.advance(hours=1)
        await drain(runtime, clock)  # taken: never sent again
    assert len(receiver.seen) == 3
    assert len({s.key for s in receiver.seen}) == 1
    assert len({json.dumps(s.body, sort_keys=True) for s in receiver.seen}) == 1


async def test_a_dead_receiver_is_probed_not_hammered_and_given_up_on(
    notifying, receiver: Receiver, settings
):
    runtime, connect = notifying()
    receiver.dead = True
    clock = StepClock()
    async with connect("assistant") as client:
        for _ in range(3):
            await propose_titles(client, MK, people("subscribed", 1))
            await drain(runtime, clock)
        assert receiver.attempts == 2  # one per target; then the target is backed off
        clock.advance(seconds=3)
        await drain(runtime, clock)
        assert receiver.attempts == 4  # one probe per target, not one per waiting message
        clock.advance(hours=25)  # past give_up_after_hours (24): parked, logged
        await drain(runtime, clock)
        clock.advance(days=30)
        assert await drain(runtime, clock) == 0
        whoami = await ok(client, "whoami")
    assert whoami["principal"] == "assistant"
    assert receiver.seen == []


async def test_a_requeue_from_the_cli_is_sent_at_once_by_a_running_sender(
    notifying, receiver: Receiver, settings
):
    """The receiver was down, so the running sender backs both targets off (in its own
    memory). Once it is fixed, the operator runs ``notify requeue`` in another process: the
    sender notices the requeued rows at its next poll and sends them then, not when the
    backoff it kept would have let it."""
    runtime, connect = notifying()
    receiver.dead = True
    clock = StepClock()
    async with connect("assistant") as client:
        await propose_titles(client, MK, people("subscribed", 1))
        await drain(runtime, clock)
        assert receiver.attempts == 2 and receiver.seen == []  # a probe per target: both down
        receiver.dead = False
        assert await drain(runtime, clock) == 0  # still backed off: nothing is due
        assert receiver.seen == []
        assert runtime.notifier is not None
        outbox = runtime.notifier.outbox
        waiting = await outbox.unsent(limit=10)
        assert len(waiting) == 2 and all(m.last_error for m in waiting)
        _cli(settings, "notify", "requeue", *(str(m.id) for m in waiting), "--by", "oncall")
        await drain(runtime, clock)  # the same moment: the backoff would still hold
        assert sorted(s.target for s in receiver.seen) == ["relay", "slack"]
        assert await outbox.unsent(limit=10) == []
    requeued = [r for r in audit_rows(settings) if r["tool"] == "notify requeue"]
    assert [(r["principal"], r["outcome"]) for r in requeued] == [("oncall", "ok")]


async def test_review_requests_reach_only_targets_of_reviewers_who_may_approve(
    notifying, receiver: Receiver, settings
):
    """Only compliance may approve consent changes: a target for mops-lead gets none."""
    targets = """
[notifications.targets.mops-slack]
format = "slack"
url_env = "MOPSGATE_TEST_SLACK_URL"
reviewers = ["mops-lead"]
events = ["change.awaiting_review"]

[notifications.targets.relay]
format = "json"
url_env = "MOPSGATE_TEST_RELAY_URL"
reviewers = ["compliance"]
"""
    runtime, connect = notifying(targets)
    async with connect("assistant") as client:
        await ok(
            client,
            "propose_opt_out",
            connector="marketo",
            person_refs=[MK.ref(people("subscribed", 1)[0])],
            reason=REASON,
        )
        await propose_titles(client, MK, people("subscribed", 1))
        await drain(runtime)
    relay = [s.body for s in receiver.seen if s.target == "relay"]
    slack = [s.body for s in receiver.seen if s.target == "slack"]
    assert [b["refs"]["risk_class"] for b in relay] == ["consent", "update_fields"]
    assert len(slack) == 1 and "update_fields" in slack[0]["text"]


async def test_an_overdue_use_case_is_announced_once_to_its_escalation_contact(
    notifying, receiver: Receiver, settings, manifest_path: Path
):
    text = manifest_path.read_text(encoding="utf-8")
    past = date.today().replace(year=date.today().year - 1).isoformat()
    manifest_path.write_text(
        text.replace(
            '[use_cases.reporting]\npurpose = "Answer questions about campaign performance and '
            'database health; read only."\nrisk_level = "low"\nreview_date = 2027-05-01',
            '[use_cases.reporting]\npurpose = "Answer questions about campaign performance and '
            f'database health; read only."\nrisk_level = "low"\nreview_date = {past}',
        ),
        encoding="utf-8",
    )
    runtime, connect = notifying()
    clock = StepClock()
    async with connect("assistant") as client:
        await drain(runtime, clock)
        clock.advance(hours=2)  # the next hourly look finds it again: same key, not re-sent
        await drain(runtime, clock)
        await ok(client, "whoami")
    relay = [s.body for s in receiver.seen if s.target == "relay"]
    assert [b["event"] for b in relay] == ["use_case.review_overdue"]
    assert relay[0]["to"] == ["mops-oncall@example.com"]
    assert relay[0]["refs"]["use_case"] == "reporting"
    assert relay[0]["refs"]["review_date"] == past
    assert relay[0]["counts"]["days_overdue"] >= 365


async def test_without_targets_notices_are_dropped_not_sent(settings: Settings, receiver: Receiver):
    runtime = build_runtime(settings, env=ENV, notify_options={"transport": receiver.transport()})
    runtime.notify_background = False
    server = build_server(runtime, transport="memory", resolve_principal=lambda _: "assistant")
    async with Client(server, raise_exceptions=True) as client:
        await propose_titles(client, MK, people("subscribed", 1))
        assert await drain(runtime) == 1  # the notice, taken and dropped
        assert await drain(runtime) == 0
    assert receiver.seen == []


def test_the_sender_runs_in_the_background_of_a_server(
    settings: Settings, manifest_path: Path, receiver: Receiver
):
    """Without anyone driving it, a serving process delivers what its calls queued."""
    import asyncio

    add_targets(manifest_path)
    runtime = build_runtime(settings, env=ENV, notify_options={"transport": receiver.transport()})
    runtime.notify_poll_seconds = 0.05  # the product polls every second; the test need not wait

    async def scenario() -> None:
        server = build_server(runtime, transport="memory", resolve_principal=lambda _: "assistant")
        async with Client(server, raise_exceptions=True) as client:
            await propose_titles(client, MK, people("subscribed", 1))
            for _ in range(600):  # a bound for a broken sender, not a timing assertion
                if len(receiver.seen) == 2:
                    break
                await asyncio.sleep(0.05)

    asyncio.run(scenario())
    assert sorted(receiver.events("relay") + receiver.events("slack")) == [
        "change.awaiting_review",
        "change.awaiting_review",
    ]
