"""Confirmation-token and review refusals (catalogue B): every one leaves the vendor untouched
and lands in the audit log."""

from __future__ import annotations

import base64
import json
import re
from datetime import timedelta

from mopsgate.governance.change_model import utcnow
from mopsgate.governance.confirm_token import issue
from mopsgate.server.app import Runtime
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows, text_of
from tests.server.e2e_support import approve, review
from tests.server.test_changes_kit import (
    MK,
    REASON,
    apply,
    last_refusal,
    people,
    propose_titles,
    sql,
    status,
)
from tests.support.changes import stored_change


async def test_apply_without_approval(connect, runtime: Runtime, settings: Settings):
    emu = runtime.connectors.emulator("marketo")
    async with connect("assistant") as client:
        plan = await propose_titles(client, MK, people("subscribed", 2))
        result = await apply(client, plan)
        assert result.is_error and "waiting for approval (1 more needed of 1)" in text_of(result)
        assert await status(client, plan["change_id"]) == "proposed"
    assert emu.core.write_requests == []
    row = last_refusal(settings)
    assert row["change_id"] == plan["change_id"] and row["error_code"] == "change_refused"


def _forge(runtime: Runtime, settings: Settings, change_id: str) -> str:
    """A well-formed token over the real payload, signed with a key mopsgate never had."""
    change = stored_change(settings, change_id)
    return issue(b"an attacker's guess at the key!!" * 2, change)


def _tamper(token: str, **edits: object) -> str:
    """Edit the payload and keep the original signature."""
    version, body, mac = token.split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload.update(edits)
    raw = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    return f"{version}.{base64.urlsafe_b64encode(raw).rstrip(b'=').decode()}.{mac}"


async def test_forged_and_tampered_tokens(connect, runtime: Runtime, settings: Settings):
    emu = runtime.connectors.emulator("marketo")
    async with connect("assistant") as client:
        plan = await propose_titles(client, MK, people("subscribed", 2))
        approve(settings, plan["change_id"])
        token = plan["confirmation_token"]
        later = int((utcnow() + timedelta(days=30)).timestamp())
        attempts = {
            "a random string": "not-a-token-at-all-0123456789",
            "right shape, wrong MAC": _forge(runtime, settings, plan["change_id"]),
            "expiry pushed out": _tamper(token, exp=later),
            "principal swapped": _tamper(token, sub="analyst"),
        }
        for what, bad in attempts.items():
            result = await apply(client, plan, bad)
            assert result.is_error, what
            assert "[invalid_confirmation]" in text_of(result), (what, text_of(result))
            assert last_refusal(settings)["error_code"] == "invalid_confirmation"
        assert "altered" in text_of(await apply(client, plan, attempts["expiry pushed out"]))
        assert await status(client, plan["change_id"]) == "approved"  # not burnt by the attacks
        assert emu.core.write_requests == []
        good = await apply(client, plan)
        assert not good.is_error, text_of(good)
    # The audit keeps no token, only the refusal.
    assert not any(token in str(r.values()) for r in audit_rows(settings))


async def test_expired_token(connect, runtime: Runtime, settings: Settings):
    emu = runtime.connectors.emulator("marketo")
    async with connect("assistant") as client:
        plan = await propose_titles(client, MK, people("subscribed", 2))
        approve(settings, plan["change_id"])
        past = (utcnow() - timedelta(minutes=1)).isoformat()
        sql(
            settings,
            "UPDATE changes SET expires_at = ?, data = json_set(data, '$.expires_at', ?) "
            "WHERE id = ?",
            past,
            past,
            plan["change_id"],
        )
        result = await apply(client, plan)
        assert result.is_error and "expired" in text_of(result), text_of(result)
        assert await status(client, plan["change_id"]) == "expired"
    assert emu.core.write_requests == []
    assert last_refusal(settings)["error_code"] == "invalid_confirmation"


async def test_replayed_token(connect, runtime: Runtime, settings: Settings):
    emu = runtime.connectors.emulator("marketo")
    async with connect("assistant") as client:
        plan = await propose_titles(client, MK, people("subscribed", 2))
        approve(settings, plan["change_id"])
        first = await apply(client, plan)
        assert not first.is_error, text_of(first)
        writes = len(emu.core.write_requests)
        assert writes == 1
        again = await apply(client, plan)
        assert again.is_error and "already been used" in text_of(again), text_of(again)
        assert await status(client, plan["change_id"]) == "applied"
    assert len(emu.core.write_requests) == writes
    assert last_refusal(settings)["error_code"] == "invalid_confirmation"


def _add_second_assistant(settings: Settings) -> None:
    """A second AI principal with the very same grants as ``assistant``."""
    text = settings.manifest_path.read_text()
    text = text.replace('principals = ["assistant"]', 'principals = ["assistant", "assistant2"]')
    text = text.replace(
        "[principals.analyst]",
        '[principals.assistant2]\ndescription = "A second assistant."\n'
        'use_cases = ["campaign-ops"]\n\n[principals.analyst]',
    )
    settings.manifest_path.write_text(text)


async def test_another_principals_token(connect, runtime: Runtime, settings: Settings):
    """A leaked token is useless to anyone but the requester: a principal without apply rights
    is stopped by policy, one with them by the token's binding to the requester."""
    _add_second_assistant(settings)
    emu = runtime.connectors.emulator("marketo")
    async with connect("assistant") as owner:
        plan = await propose_titles(owner, MK, people("subscribed", 2))
        approve(settings, plan["change_id"])
        async with connect("analyst") as analyst:
            result = await apply(analyst, plan)
            assert result.is_error and "[not_permitted]" in text_of(result)
        assert last_refusal(settings)["principal"] == "analyst"
        async with connect("assistant2") as other:
            result = await apply(other, plan)
            assert result.is_error
            assert "belongs to another principal" in text_of(result), text_of(result)
        row = last_refusal(settings)
        assert row["principal"] == "assistant2" and row["change_id"] == plan["change_id"]
        assert emu.core.write_requests == []
        assert await status(owner, plan["change_id"]) == "approved"


async def test_token_of_another_change(connect, runtime: Runtime, settings: Settings):
    emu = runtime.connectors.emulator("marketo")
    a, b = people("subscribed", 2)
    async with connect("assistant") as client:
        first = await propose_titles(client, MK, [a])
        second = await propose_titles(client, MK, [b])
        approve(settings, first["change_id"])
        approve(settings, second["change_id"])
        result = await apply(client, first, second["confirmation_token"])
        assert result.is_error and "belongs to another change" in text_of(result)
        assert emu.core.write_requests == []
        assert last_refusal(settings)["change_id"] == first["change_id"]
        assert await status(client, first["change_id"]) == "approved"
        assert await status(client, second["change_id"]) == "approved"


async def test_self_approval_and_ai_reviewers_refused(connect, runtime: Runtime, settings):
    async with connect("assistant") as client:
        plan = await propose_titles(client, MK, people("subscribed", 1))
        for reviewer, says in (
            # the requester is an AI principal, and who may review is checked first
            ("assistant", "is an AI principal in the manifest"),
            ("analyst", "is an AI principal in the manifest"),
            ("somebody", "not a reviewer"),
        ):
            result = review(settings, "approve", plan["change_id"], "--reviewer", reviewer)
            assert result.exit_code == 1, result.output
            assert says in result.output, result.output
            row = last_refusal(settings, "review approve")
            assert row["principal"] == reviewer and row["decision"] == "denied"
        assert await status(client, plan["change_id"]) == "proposed"
    assert runtime.connectors.emulator("marketo").core.write_requests == []


async def test_reviewer_without_the_risk_class(connect, runtime: Runtime, settings: Settings):
    async with connect("assistant") as client:
        from tests.server.test_changes_kit import ok

        plan = await ok(
            client,
            "propose_opt_out",
            connector="marketo",
            person_refs=[MK.ref(people("subscribed", 1)[0])],
            reason=REASON,
        )
        result = review(settings, "approve", plan["change_id"], "--reviewer", "mops-lead")
        assert result.exit_code == 1
        assert re.search(r"mops-lead.*consent", result.output), result.output
        row = last_refusal(settings, "review approve")
        assert row["error_code"] == "reviewer_not_allowed"
        assert await status(client, plan["change_id"]) == "proposed"
        assert (await apply(client, plan)).is_error
    assert runtime.connectors.emulator("marketo").core.write_requests == []


async def test_revoked_or_cancelled_changes_cannot_be_applied(connect, runtime: Runtime, settings):
    emu = runtime.connectors.emulator("marketo")
    async with connect("assistant") as client:
        revoked = await propose_titles(client, MK, people("subscribed", 1))
        approve(settings, revoked["change_id"])
        result = review(
            settings, "reject", revoked["change_id"], "--reviewer", "compliance", "--reason", "no"
        )
        assert result.exit_code == 0, result.output
        refusal = await apply(client, revoked)
        assert refusal.is_error and "is rejected" in text_of(refusal), text_of(refusal)
        cancelled = await propose_titles(client, MK, people("subscribed", 1, start=50))
        approve(settings, cancelled["change_id"])
        assert not (
            await client.call_tool("cancel_change", {"change_id": cancelled["change_id"]})
        ).is_error
        refusal = await apply(client, cancelled)
        assert refusal.is_error and "is cancelled" in text_of(refusal), text_of(refusal)
    assert emu.core.write_requests == []


async def test_plan_edited_in_the_store_after_approval(connect, runtime: Runtime, settings):
    """Someone with write access to the database swaps the approved value: the token is bound
    to the plan digest, so the edited plan is never written."""
    emu = runtime.connectors.emulator("marketo")
    async with connect("assistant") as client:
        plan = await propose_titles(client, MK, people("subscribed", 1), "Approved Title")
        approve(settings, plan["change_id"])
        sql(
            settings,
            "UPDATE changes SET data = replace(data, 'Approved Title', 'Sneaky Title') "
            "WHERE id = ?",
            plan["change_id"],
        )
        result = await apply(client, plan)
        assert result.is_error and "no longer matches" in text_of(result), text_of(result)
    assert emu.core.write_requests == []
    assert last_refusal(settings)["error_code"] == "invalid_confirmation"


async def test_a_dropped_revert_can_be_proposed_again(connect, runtime: Runtime, settings):
    async with connect("assistant") as client:
        plan = await propose_titles(client, MK, people("subscribed", 1, start=80))
        approve(settings, plan["change_id"])
        assert not (await apply(client, plan)).is_error
        args = {"change_id": plan["change_id"], "reason": "The user changed their mind"}
        first = await client.call_tool("propose_revert", args)
        assert not first.is_error, text_of(first)
        twice = await client.call_tool("propose_revert", args)
        assert twice.is_error and "already has a revert" in text_of(twice)
        await client.call_tool(
            "cancel_change", {"change_id": first.structured_content["change_id"]}
        )
        again = await client.call_tool("propose_revert", args)
        assert not again.is_error, text_of(again)
