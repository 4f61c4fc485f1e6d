"""The review console over plain HTTP (no browser): its walls, pages and decisions, with each
reviewer's passkey in software. The browser tests (test_console_browser.py) drive the same
flows through Chromium; these always run, with or without it. Tests that assert only about
their own change share one console (``shared_site``, ``shared_lead``: conftest.py); those that
count what the console did, or change what it reads, have their own (``site``, ``lead``)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import httpx
from typer.testing import CliRunner
from webauthn.helpers import base64url_to_bytes

from mopsgate.governance.change_model import ChangeStatus
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.sandbox.seed import seed_data
from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.console.support import Reviewer, Site, console_site, propose
from tests.server.test_changes_kit import WELCOME_TRIGGER, people
from tests.support.changes import stored_change
from tests.support.reviewers import SoftPasskey

NEWSLETTER = mk.list_ref(0)


def add_to_newsletter(site: Site, n: int = 3) -> dict[str, Any]:
    refs = [mk.lead_ref(i) for i in people("subscribed", n, not_in=0)]
    return propose(site.runtime, "propose_add_to_list", list_ref=NEWSLETTER, person_refs=refs)


def test_every_page_has_the_walls(shared_site: Site) -> None:
    page = httpx.get(f"{shared_site.base}/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert not re.search(r"<script(?![^>]*src=\"/static/console\.js\")", page.text)
    assert "https://" not in page.text and "http://" not in page.text.replace(shared_site.base, "")
    wrong_host = httpx.get(f"{shared_site.base}/login", headers={"Host": "evil.example:80"})
    assert wrong_host.status_code == 400


def test_mcp_bearer_tokens_are_never_accepted(shared_site: Site) -> None:
    created = CliRunner().invoke(
        app,
        [
            "token",
            "create",
            "--principal",
            "assistant",
            "--manifest",
            str(shared_site.settings.manifest_path),
            "--home",
            str(shared_site.settings.home),
        ],
    )
    token = created.output.strip().splitlines()[-1]
    for path in ("/queue", "/login"):
        answer = httpx.get(
            f"{shared_site.base}{path}", headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 401
        assert "does not accept bearer tokens" in answer.text


def test_pages_need_a_login(shared_site: Site) -> None:
    for path in ("/queue", "/history", "/changes/chg_000000000000"):
        answer = httpx.get(f"{shared_site.base}{path}", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/login"


def test_the_change_page_says_what_things_are(shared_site: Site, shared_lead: Reviewer) -> None:
    plan = add_to_newsletter(shared_site)
    queue = shared_lead.page("/queue")
    assert plan["change_id"] in queue.text
    page = shared_lead.page(f"/changes/{plan['change_id']}")
    assert page.status_code == 200
    assert "Newsletter - Monthly" in page.text
    assert "Feeds email sends" in page.text and "Monthly Newsletter" in page.text
    assert page.text.count("joins Newsletter - Monthly") == 3
    assert "campaign-ops" in page.text and "Data Protection Officer" in page.text
    # mops-lead's PII rights are masked (the default): names and emails come masked.
    assert re.search(r"[A-Z]\*\*\* &lt;[a-z0-9]\*\*\*@", page.text), page.text[:3000]
    row = [r for r in audit_rows(shared_site.settings) if r["tool"] == "console view"][-1]
    assert row["principal"] == "mops-lead" and "3 people shown (masked)" in row["result_summary"]


def test_a_change_page_costs_few_marketo_calls(site: Site, lead: Reviewer) -> None:
    """Marketo allows 100 calls per 20 s for the whole instance: a page must not spend them on
    reading every campaign again. The first view reads the smart list of each active
    campaign that may send email, once (nothing twice): the Q4 Trade Show campaign sits in an
    Event program, sends no email, so its audience is not the page's business and is not
    read. The next views read only the list and the page's people."""
    plan = add_to_newsletter(site)
    emu = site.desk.connectors.emulator("marketo")
    emu.core.reset_log()
    first = lead.page(f"/changes/{plan['change_id']}")
    assert "Feeds email sends" in first.text and "Monthly Newsletter" in first.text
    lines = [f"{r.method} {r.path}?{r.query}" for r in emu.core.requests]
    assert len(lines) == len(set(lines)), lines  # nothing read twice
    senders = [c.idx for c in seed_data().campaigns if c.active and c.sends_email]
    assert sorted(r.path for r in emu.requests_to("/smartList.json")) == sorted(
        f"/rest/asset/v1/smartCampaign/{mk.smart_campaign_id(i)}/smartList.json" for i in senders
    ), lines
    # Listed campaigns are not read again one by one: only their smart lists (their audience).
    again_read = [
        r.path
        for r in emu.core.requests
        if "/program/" in r.path or (r.path.endswith(".json") and "/smartCampaign/" in r.path)
    ]
    assert all(p.endswith("/smartList.json") for p in again_read), again_read
    assert len(emu.requests_to("/leads.json")) == 1  # the page's people: one batch read
    emu.core.reset_log()
    again = lead.page(f"/changes/{plan['change_id']}")
    assert "Feeds email sends" in again.text and "Monthly Newsletter" in again.text
    assert [r.path for r in emu.core.requests] == [
        f"/rest/v1/lists/{mk.list_id(0)}.json",
        "/rest/v1/leads.json",
    ]


def test_names_from_the_crm_are_spelled_out(site: Site, lead: Reviewer) -> None:
    plan = add_to_newsletter(site)
    state = site.desk.connectors.emulator("marketo").state
    newsletter = state.static_list(mk.list_id(0))
    renamed = "Newsletter\u202e APPROVED by compliance"
    state.add_static_list(replace(newsletter, name=renamed, description="<b>trusted</b>"))
    page = lead.page(f"/changes/{plan['change_id']}").text
    assert "Newsletter&lt;U+202E&gt; APPROVED by compliance" in page
    assert "\u202e" not in page and "<b>trusted</b>" not in page


def test_reviewers_notes_are_spelled_out_too(shared_site: Site, shared_lead: Reviewer) -> None:
    """A reviewer's note is shown to the next reviewer: it must not reorder what they read."""
    plan = add_to_newsletter(shared_site)
    done = shared_lead.decide(str(plan["change_id"]), "approve", "ok \u202eDEVORPPA")
    assert done.status_code == 200, done.text
    page = shared_lead.page(f"/changes/{plan['change_id']}").text
    assert "ok &lt;U+202E&gt;DEVORPPA" in page and "\u202e" not in page


def test_forms_keep_their_origin(shared_site: Site) -> None:
    """With no-referrer, Chromium posts forms with ``Origin: null`` and the origin check
    refuses them (log out, the no-JavaScript decision); same-origin keeps the origin."""
    page = httpx.get(f"{shared_site.base}/login")
    assert page.headers["referrer-policy"] == "same-origin"


def test_queue_filters(shared_site: Site, shared_lead: Reviewer) -> None:
    plan = add_to_newsletter(shared_site)
    assert plan["change_id"] in shared_lead.page("/queue?risk=audience&connector=marketo").text
    assert plan["change_id"] not in shared_lead.page("/queue?risk=send").text
    assert plan["change_id"] not in shared_lead.page("/queue?connector=hubspot").text
    assert plan["change_id"] not in shared_lead.page("/queue?requester=analyst").text
    assert plan["change_id"] in shared_lead.page("/queue?age=1h").text
    assert plan["change_id"] not in shared_lead.page("/queue?age=old").text


def test_a_passkey_signed_approval_is_recorded_and_verifies(site: Site, lead: Reviewer) -> None:
    plan = add_to_newsletter(site)
    done = lead.decide(str(plan["change_id"]), "approve", "checked the list")
    assert done.status_code == 200, done.text
    change = stored_change(site.settings, str(plan["change_id"]))
    assert change.status is ChangeStatus.APPROVED
    (approval,) = change.approvals
    assert approval.proof is not None and approval.proof.proof.method == "passkey"
    verify = CliRunner().invoke(app, ["audit", "verify", "--home", str(site.settings.home)])
    assert verify.exit_code == 0, verify.output
    assert "1 decisions, every signature verifies" in verify.output
    assert plan["change_id"] in lead.page("/history").text


def test_console_and_review_show_say_the_same_about_approvals(
    shared_site: Site, shared_lead: Reviewer
) -> None:
    change_id = str(add_to_newsletter(shared_site)["change_id"])
    where = [
        "--manifest",
        str(shared_site.settings.manifest_path),
        "--home",
        str(shared_site.settings.home),
    ]

    def both_say(text: str) -> None:
        page = shared_lead.page(f"/changes/{change_id}").text
        assert f'<p id="approval-summary"><strong>{text}.</strong></p>' in page
        # The CLI reads the sandbox in memory, as the console does (settings fixture).
        memory = {"MOPSGATE_SANDBOX": "memory"}
        shown = CliRunner(env=memory).invoke(app, ["review", "show", change_id, *where])
        assert shown.exit_code == 0 and f"{text}." in shown.output, shown.output

    both_say("Needs 1 more approval; no approvals yet")
    assert shared_lead.decide(change_id, "approve", "fine").status_code == 200
    both_say("Approved by 1 of 1 required reviewers — ready to apply")


def test_refusals_are_audited_and_change_nothing(shared_site: Site, shared_lead: Reviewer) -> None:
    plan = propose(
        shared_site.runtime,
        "propose_trigger_campaign",
        campaign_ref=WELCOME_TRIGGER,
        person_refs=[mk.lead_ref(i) for i in people("subscribed", 2)],
    )
    change_id = str(plan["change_id"])
    no_reason = shared_lead.decide(change_id, "reject", "")
    assert no_reason.status_code == 400 and "needs a reason" in no_reason.json()["error"]
    # A form post without the CSRF token, with a wrong one, and without a session: 403.
    base = f"/changes/{change_id}/decide/options"
    assert shared_lead.http.post(base, data={"decision": "approve"}).status_code == 403
    assert shared_lead.http.post(base, data={"decision": "approve", "csrf": "x"}).status_code == 403
    assert httpx.post(f"{shared_site.base}{base}", data={"decision": "approve"}).status_code == 403
    assert shared_lead.http.post("/freeze", data={"reason": "x"}).status_code == 403
    refused = [r for r in audit_rows(shared_site.settings) if r["tool"] == "review reject"]
    assert refused[-1]["outcome"] == "refused"
    assert (
        refused[-1]["use_case"]
        == stored_change(shared_site.settings, change_id).use_case
        is not None
    )
    assert stored_change(shared_site.settings, change_id).status is ChangeStatus.PROPOSED


def test_freeze_needs_the_entitlement(shared_site: Site, shared_lead: Reviewer) -> None:
    answer = shared_lead.http.post("/freeze", data={"csrf": shared_lead.csrf, "reason": "incident"})
    assert answer.status_code == 403 and "may_freeze" in answer.text
    rows = [r for r in audit_rows(shared_site.settings) if r["tool"] == "freeze"]
    assert rows[-1]["outcome"] == "refused"


def test_an_invite_enrols_a_passkey_once(shared_site: Site) -> None:
    result = CliRunner().invoke(
        app,
        [
            "reviewer",
            "invite",
            "--reviewer",
            "compliance",
            "--manifest",
            str(shared_site.settings.manifest_path),
            "--home",
            str(shared_site.settings.home),
        ],
    )
    assert result.exit_code == 0, result.output
    link = re.search(r"http://localhost:\d+/enrol/(\S+)", result.output)
    assert link is not None
    newcomer = Reviewer(shared_site, SoftPasskey(credential_id=b"new-device-credential", seed=99))
    path = f"/enrol/{link.group(1)}"
    assert _register(newcomer, path).status_code == 200
    shown = newcomer.page("/enrol/done").text
    assert "[[reviewers.compliance.passkeys]]" in shown and newcomer.passkey.id in shown
    assert "Invite not usable" in newcomer.page(path).text  # single use
    rows = [r for r in audit_rows(shared_site.settings) if r["kind"] == "enrolment"]
    assert [r["tool"] for r in rows][-3:] == ["reviewer invite", "console enrol", "console enrol"]
    assert rows[-1]["outcome"] == "refused"
    newcomer.close()


def _register(newcomer: Reviewer, path: str) -> httpx.Response:
    """Complete an enrolment link with the newcomer's (software) passkey."""
    assert "Enrol a passkey for" in newcomer.page(path).text
    options = newcomer.post_json(f"{path}/options", {}).json()
    response = newcomer.passkey.register(
        base64url_to_bytes(options["challenge"]), "localhost", newcomer.site.base
    )
    credential = {"id": newcomer.passkey.id, "rawId": newcomer.passkey.id}
    return newcomer.post_json(
        f"{path}/verify", {**credential, "type": "public-key", "response": response}
    )


def test_the_sandbox_first_run_is_one_command_then_a_console_approval(settings: Settings) -> None:
    # mops-lead has no passkey yet: `reviewer enrol` is all a newcomer runs.
    with console_site(settings, reviewers=("compliance",)) as site:
        where = ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
        enrolled = CliRunner().invoke(
            app,
            ["reviewer", "enrol", "--reviewer", "mops-lead", *where],
            env={"MOPSGATE_CONSOLE_URL": site.base},
        )
        assert enrolled.exit_code == 0, enrolled.output
        link = re.search(rf"{re.escape(site.base)}(/enrol/\S+)", enrolled.output)
        assert link is not None
        newcomer = Reviewer(site, SoftPasskey(credential_id=b"newcomer-laptop", seed=7))
        assert _register(newcomer, link.group(1)).status_code == 200
        # On the sandbox the console declared the passkey itself: nothing to paste.
        assert "[[reviewers.mops-lead.passkeys]]" in settings.manifest_path.read_text()
        assert newcomer.log_in("mops-lead").status_code == 200
        plan = add_to_newsletter(site)
        done = newcomer.decide(str(plan["change_id"]), "approve", "first review")
        assert done.status_code == 200, done.text
        change = stored_change(settings, str(plan["change_id"]))
        assert change.status is ChangeStatus.APPROVED
        assert change.approvals[0].reviewer == "mops-lead"
        newcomer.close()
