"""Catalogue M-17, written as the attack: whoever can write the manifest file widens what an
assistant may do. A widening edit takes effect only once reviewers of the manifest in force have
signed an approval of exactly that change (old digest -> new digest); until then the old
permissions hold — checked with real tool calls — and the refusal is audited with both digests,
what widens and the text diff. A narrowing edit applies at once."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mcp import Client

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.change_model import utcnow
from mopsgate.governance.manifest_approval import (
    approval_event,
    new_statement,
    sign_approval,
)
from mopsgate.governance.reviewer_keys import private_key_pem
from mopsgate.server.app import Runtime, build_runtime, build_server
from mopsgate.server.settings import Settings
from tests.conftest import ROOT, audit_rows
from tests.server.e2e_support import run_cli
from tests.server.test_reload import ANALYST_RULE
from tests.support.changes import with_storage
from tests.support.manifest_edits import approve_edit, digest_of_file
from tests.support.reviewers import declare_keys, key_table, reviewer_key

WIDENED_TOOL = "list_campaigns"


def _narrowed(text: str) -> str:
    out, n = ANALYST_RULE.subn(r'\1["list_lists"]', text)
    assert n == 1
    return out


async def _may_list_campaigns(client: Client) -> bool:
    result = await client.call_tool(WIDENED_TOOL, {"connector": "hubspot"})
    return not result.is_error


async def _digest_in_force(client: Client) -> str:
    return str((await client.call_tool("whoami", {})).structured_content["manifest_digest"])


def _reload_rows(settings: Settings) -> list[dict[str, Any]]:
    return [r for r in audit_rows(settings) if r["kind"] == "manifest_reload"]


def _append(settings: Settings, event: AuditEvent) -> None:
    with_storage(settings, lambda s: s.audit.append(event))


def _cli(settings: Settings, *args: str) -> Any:
    where = ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    return run_cli([*args, *where])


def _start_narrowed(manifest_path: Path) -> str:
    """The server starts under a manifest that does not grant list_campaigns to the analyst;
    returns the full text, which grants it (the widening edit)."""
    wide = manifest_path.read_text()
    manifest_path.write_text(_narrowed(wide))
    return wide


async def test_an_unapproved_widening_edit_is_refused_and_the_old_permissions_hold(
    connect, manifest_path: Path, settings: Settings
):
    wide = _start_narrowed(manifest_path)
    async with connect("analyst") as client:
        before = await _digest_in_force(client)
        assert not await _may_list_campaigns(client)
        manifest_path.write_text(wide)  # the attack: grant yourself a tool
        new = digest_of_file(settings)
        for _ in range(3):
            assert not await _may_list_campaigns(client)
        assert await _digest_in_force(client) == before
    [row] = _reload_rows(settings)  # refused once, not once per call
    assert row["outcome"] == "refused"
    assert row["manifest_digest"] == before
    assert row["result_summary"] == f"{before[:12]} -> kept ({new[:12]} not approved)"
    assert "widens permissions (allow rule analyst-read: tools)" in row["reason"]
    assert f"`mopsgate manifest approve {new[:12]}`" in row["reason"]
    arguments = json.loads(row["arguments"])
    assert arguments["refused_digest"] == new
    assert arguments["widens"] == ["allow rule analyst-read: tools"]
    assert any(line.startswith("+") and WIDENED_TOOL in line for line in arguments["diff"])
    # the refused version is kept in the history, by the digest a reviewer approves
    history = _cli(settings, "manifest", "history")
    assert new[:12] in history.output and "refused" in history.output


async def test_an_approved_widening_edit_applies(connect, manifest_path: Path, settings: Settings):
    wide = _start_narrowed(manifest_path)
    async with connect("analyst") as client:
        before = await _digest_in_force(client)
        manifest_path.write_text(wide)
        assert not await _may_list_campaigns(client)
        output = approve_edit(settings, "mops-lead")  # the real CLI, with mops-lead's own key
        assert "widens: allow rule analyst-read: tools" in output
        assert "Approved by mops-lead: 1 of 1 approval(s) (mops-lead)" in output
        assert await _may_list_campaigns(client)  # no restart, no touch of the file
        after = await _digest_in_force(client)
    assert after == digest_of_file(settings) != before
    refused, applied = _reload_rows(settings)
    assert refused["outcome"] == "refused" and applied["outcome"] == "ok"
    assert applied["result_summary"] == f"{before[:12]} -> {after[:12]}"
    assert f"manifest {before[:12]} replaced by {after[:12]}" in applied["reason"]
    assert "widening approved by 1 of 1 approval(s) (mops-lead)" in applied["reason"]
    assert json.loads(applied["arguments"])["widens"] == ["allow rule analyst-read: tools"]
    [approval] = [r for r in audit_rows(settings) if r["tool"] == "manifest approve"]
    assert approval["principal"] == "mops-lead" and approval["outcome"] == "ok"
    assert approval["result_summary"] == f"{before[:12]} -> {after[:12]}"


async def test_an_approval_of_another_change_does_not_count(
    connect, manifest_path: Path, settings: Settings
):
    wide = _start_narrowed(manifest_path)
    other = wide.replace('"get_campaign", ', "", 1)  # a different widening of the same rule
    assert other != wide
    async with connect("analyst") as client:
        before = await _digest_in_force(client)
        manifest_path.write_text(other)
        approve_edit(settings)  # approves before -> other
        manifest_path.write_text(wide)
        new = digest_of_file(settings)
        # and one for the right new version, but on top of another manifest than the one in force
        stale = sign_approval(new_statement("0" * 64, new, "mops-lead", utcnow()), _key())
        _append(settings, approval_event(stale, []))
        assert not await _may_list_campaigns(client)
        assert await _digest_in_force(client) == before
    refused = [r for r in _reload_rows(settings) if r["outcome"] == "refused"]
    assert json.loads(refused[-1]["arguments"])["refused_digest"] == new
    assert "0 of 1 approval(s)" in refused[-1]["reason"]


def _key(reviewer: str = "mops-lead") -> Ed25519PrivateKey:
    return reviewer_key(reviewer)


async def test_forged_and_unsigned_approvals_are_refused(
    connect, manifest_path: Path, settings: Settings
):
    wide = _start_narrowed(manifest_path)
    async with connect("analyst") as client:
        before = await _digest_in_force(client)
        # the attacker adds their own reviewer and key in the same edit, and approves with it
        manifest_path.write_text(
            wide
            + '\n[reviewers.intruder]\nrisk_classes = ["update_fields"]\n'
            + key_table("intruder")
        )
        new = digest_of_file(settings)
        statement = new_statement(before, new, "intruder", utcnow())
        _append(settings, approval_event(sign_approval(statement, _key("intruder")), []))
        # mops-lead's name, the intruder's key
        as_lead = new_statement(before, new, "mops-lead", utcnow())
        _append(settings, approval_event(sign_approval(as_lead, _key("intruder")), []))
        # mops-lead's key over another statement, the signature moved onto this one
        other = sign_approval(new_statement(before, "1" * 64, "mops-lead", utcnow()), _key())
        moved = other.model_copy(update={"statement": as_lead})
        _append(settings, approval_event(moved, []))
        # no signature at all: a row that only says it was approved
        unsigned = approval_event(moved, [])
        _append(settings, unsigned.model_copy(update={"arguments": {"new_digest": new}}))
        assert not await _may_list_campaigns(client)
        assert await _digest_in_force(client) == before
        # the CLI refuses a key that is not the reviewer's, audits it, and approves nothing
        intruder_pem = manifest_path.parent / "intruder.pem"
        intruder_pem.write_bytes(private_key_pem(_key("intruder")))
        intruder_pem.chmod(0o600)
        result = _cli(
            settings, "manifest", "approve", new, "--reviewer", "mops-lead", "--key",
            str(intruder_pem), "--file", str(manifest_path),
        )  # fmt: skip
        assert result.exit_code == 1
        assert "not approved" in result.output and "declared for no reviewer" in result.output
        assert not await _may_list_campaigns(client)
    [refused] = _reload_rows(settings)
    assert "intruder has no key declared in the manifest in force" in refused["reason"]
    denied = [r for r in audit_rows(settings) if r["tool"] == "manifest approve"][-1]
    assert denied["outcome"] == "denied" and denied["principal"] == "mops-lead"


async def test_a_second_approver_is_required_when_the_manifest_asks(
    connect, manifest_path: Path, settings: Settings
):
    wide = _start_narrowed(manifest_path) + "\n[manifest_changes]\napprovals = 2\n"
    manifest_path.write_text(manifest_path.read_text() + "\n[manifest_changes]\napprovals = 2\n")
    async with connect("analyst") as client:
        manifest_path.write_text(wide)
        first = approve_edit(settings, "mops-lead")
        assert "1 of 2 approval(s) (mops-lead); 1 more reviewer(s) must approve it" in first
        approve_edit(settings, "mops-lead")  # the same reviewer again is still one approver
        assert not await _may_list_campaigns(client)
        second = approve_edit(settings, "compliance")
        assert "2 of 2 approval(s) (mops-lead, compliance)" in second
        assert await _may_list_campaigns(client)
    applied = _reload_rows(settings)[-1]
    assert "widening approved by 2 of 2 approval(s) (mops-lead, compliance)" in applied["reason"]


async def test_the_approver_count_can_only_be_tightened_without_approval(
    connect, manifest_path: Path, settings: Settings
):
    base = manifest_path.read_text()
    async with connect("analyst") as client:
        manifest_path.write_text(base + "\n[manifest_changes]\napprovals = 2\n")
        raised = await _digest_in_force(client)
        assert raised == digest_of_file(settings)  # raising it applied at once
        manifest_path.write_text(base + "\n[manifest_changes]\napprovals = 1\n")
        assert await _digest_in_force(client) == raised  # lowering it is a widening
        approve_edit(settings, "mops-lead")
        assert await _digest_in_force(client) == raised  # and needs the old count, two
        approve_edit(settings, "compliance")
        assert await _digest_in_force(client) == digest_of_file(settings)
    rows = _reload_rows(settings)
    assert [r["outcome"] for r in rows] == ["ok", "refused", "ok"]
    assert "manifest_changes: approvals" in rows[1]["reason"]


async def test_a_narrowing_edit_applies_at_once(connect, manifest_path: Path, settings: Settings):
    async with connect("analyst") as client:
        assert await _may_list_campaigns(client)
        manifest_path.write_text(_narrowed(manifest_path.read_text()))
        assert not await _may_list_campaigns(client)
    [row] = _reload_rows(settings)
    assert row["outcome"] == "ok" and "widens" not in row["reason"]
    assert "changed rule analyst-read (tools)" in row["reason"]
    arguments = json.loads(row["arguments"])
    assert "widens" not in arguments
    assert any(line.startswith("-tools = [") for line in arguments["diff"])


def _connect_to(runtime: Runtime) -> Callable[[str], Client]:
    def _connect(principal: str) -> Client:
        server = build_server(runtime, transport="memory", resolve_principal=lambda _c: principal)
        return Client(server, raise_exceptions=True)

    return _connect


async def test_a_widening_edit_made_while_the_server_was_down_is_refused_at_start(
    connect, manifest_path: Path, settings: Settings
):
    """A stdio server starts once per session: the file is judged against the version last in
    force, so waiting for the next session does not get round the approval."""
    wide = _start_narrowed(manifest_path)
    async with connect("analyst") as client:
        before = await _digest_in_force(client)
    manifest_path.write_text(wide)
    restarted = _connect_to(build_runtime(settings, env={}))
    async with restarted("analyst") as client:
        assert not await _may_list_campaigns(client)
        assert await _digest_in_force(client) == before
        approve_edit(settings)
        assert await _may_list_campaigns(client)
    assert [r["outcome"] for r in _reload_rows(settings)] == ["refused", "ok"]


async def test_the_first_reviewer_keys_need_no_approval_but_then_keys_are_required(
    connect, manifest_path: Path, settings: Settings
):
    """Before any reviewer has a key nobody could approve anything, so declaring the first keys
    applies; every widening after that needs a signed approval."""
    shutil.copy(ROOT / "permissions.toml", manifest_path)  # as shipped: no keys
    wide = manifest_path.read_text()
    manifest_path.write_text(_narrowed(wide))
    narrowed = manifest_path.read_text()
    async with connect("analyst") as client:
        manifest_path.write_text(wide)  # nobody could approve this yet: it says what to do
        assert not await _may_list_campaigns(client)
        manifest_path.write_text(narrowed)
        declare_keys(manifest_path, ("mops-lead", "compliance"))
        keyed = await _digest_in_force(client)
        assert keyed == digest_of_file(settings)
        manifest_path.write_text(wide + key_table("mops-lead") + key_table("compliance"))
        assert not await _may_list_campaigns(client)
        approve_edit(settings)
        assert await _may_list_campaigns(client)
    nobody, first, refused, approved = _reload_rows(settings)
    assert nobody["outcome"] == "refused"
    assert "Only 0 reviewer(s) of the manifest in force have a signing key" in nobody["reason"]
    assert first["outcome"] == "ok" and "first reviewer keys" in first["reason"]
    assert refused["outcome"] == "refused" and approved["outcome"] == "ok"


async def test_propose_then_approve_then_put_in_place(
    connect, manifest_path: Path, settings: Settings, tmp_path: Path
):
    """The documented workflow: the edit is proposed from a copy, approved by its digest (the
    text found in the history), and applies as soon as the file is in place."""
    wide = _start_narrowed(manifest_path)
    async with connect("analyst") as client:
        before = await _digest_in_force(client)
    proposal = tmp_path / "new-permissions.toml"
    proposal.write_text(wide)
    proposed = _cli(settings, "manifest", "propose", str(proposal))
    assert proposed.exit_code == 0, proposed.output
    assert f"Manifest change {before[:12]} -> " in proposed.output
    assert "widens: allow rule analyst-read: tools" in proposed.output
    new = proposed.output.split(" -> ")[1][:12]
    [row] = [r for r in audit_rows(settings) if r["tool"] == "manifest propose"]
    assert json.loads(row["arguments"])["new_digest"].startswith(new)
    assert _cli(settings, "manifest", "approve", new[:8], "--reviewer", "x").exit_code == 1
    unknown = _cli(settings, "manifest", "approve", "f" * 12, "--reviewer", "mops-lead")
    assert unknown.exit_code == 1 and "propose it first" in unknown.output
    approved = _cli(settings, "manifest", "approve", new, "--reviewer", "compliance")
    assert approved.exit_code == 0, approved.output
    assert "Approved by compliance: 1 of 1 approval(s) (compliance)" in approved.output
    manifest_path.write_text(wide)
    async with connect("analyst") as client:
        assert await _may_list_campaigns(client)  # a new session: the first call waits

        assert (await _digest_in_force(client)).startswith(new)
    # a narrowing proposal needs nothing and records nothing
    proposal.write_text(_narrowed(wide))
    narrowing = _cli(settings, "manifest", "propose", str(proposal))
    assert "It widens nothing: it applies at once, no approval needed." in narrowing.output
    assert len([r for r in audit_rows(settings) if r["tool"] == "manifest propose"]) == 1
