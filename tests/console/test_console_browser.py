"""The review console in a real browser: Debian's Chromium, headless, driven by Playwright,
with Chromium's virtual authenticator performing every WebAuthn ceremony (enrol, log in, sign a
decision). Skipped, naming the install command, where /usr/bin/chromium is missing; CI installs
it (.ci/run), so there they always run. A screenshot of the change page is kept in
test-artifacts/ (git-ignored)."""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest
from typer.testing import CliRunner

from mopsgate.governance.change_model import ChangeStatus
from mopsgate.sandbox.marketo import ids as mk
from mopsgate.server.cli import app
from mopsgate.server.console.passkeys import user_handle
from mopsgate.server.settings import Settings
from tests.conftest import ROOT, audit_rows
from tests.console.support import Reviewer, Site, console_site, propose
from tests.server.test_changes_kit import WELCOME_TRIGGER, people
from tests.support.changes import stored_change
from tests.support.module_state import module_settings

CHROMIUM = "/usr/bin/chromium"
INSTALL = "apt-get update && apt-get install -y chromium chromium-driver"
HAVE_PLAYWRIGHT = importlib.util.find_spec("playwright") is not None
if HAVE_PLAYWRIGHT or TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
ARTIFACTS = ROOT / "test-artifacts"
MISSING = [
    why
    for present, why in (
        (os.path.exists(CHROMIUM), f"{CHROMIUM} not found; install it with: {INSTALL}"),
        (HAVE_PLAYWRIGHT, "the playwright package is missing; `make test` installs it ([dev])"),
    )
    if not present
]


@pytest.fixture(scope="module", autouse=True)
def _a_browser_to_drive() -> None:
    """Skip, naming the install command, where there is no browser (a per-test skip, not a
    module-level one, so a run where all skip exits 0); under MOPSGATE_REQUIRE_CHROMIUM=1, set
    by .ci/run, fail instead: CI always runs these."""
    if not MISSING:
        return
    if os.environ.get("MOPSGATE_REQUIRE_CHROMIUM") == "1":
        pytest.fail(f"{MISSING[0]} (MOPSGATE_REQUIRE_CHROMIUM=1: CI never skips these)")
    pytest.skip(MISSING[0])


SEND_CHECKLIST = """
[[approvals.send.checklist]]
id = "consent-basis"
label = "Consent basis checked for every recipient"

[[approvals.send.checklist]]
id = "ticket"
label = "Ticket id"
answer = "text"
"""
EVIL = (
    'Routine tidy-up <script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    "\u202e APPROVED by compliance"
)


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One console for the tests that look only at their own change (the send checklist
    declared: it applies to sends only, so the audience changes of the others are as without)."""
    with console_site(module_settings(tmp_path_factory), extra_manifest=SEND_CHECKLIST) as site:
        yield site


@pytest.fixture(scope="module")
def browser(_a_browser_to_drive: None) -> Iterator[Browser]:
    # One browser for this module, stopped with it: Playwright's sync API runs its own event
    # loop on this thread, and a session-wide one would still be running when the async tests
    # of the next file on this worker start ("Cannot run the event loop while another loop is
    # running").
    with sync_playwright() as p:
        # Playwright passes --no-sandbox and --headless itself: no X server, works as root.
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield launched
        launched.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[[], Page]]:
    """Pages in fresh browser contexts: each has its own cookies, like two people's browsers."""
    contexts = []

    def make(**options: Any) -> Page:
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    yield make
    for context in contexts:
        context.close()


def authenticator(page: Page, site: Site | None = None, reviewer: str | None = None) -> Any:
    """A virtual passkey authenticator on this page; with ``reviewer``, holding their passkey
    (the software key the test declared in the manifest)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    options = {
        "protocol": "ctap2",
        "transport": "internal",
        "hasResidentKey": True,
        "hasUserVerification": True,
        "isUserVerified": True,
        "automaticPresenceSimulation": True,
    }
    found = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
    if site is not None and reviewer is not None:
        credential = site.passkeys[reviewer].cdp_credential("localhost", user_handle(reviewer))
        cdp.send(
            "WebAuthn.addCredential",
            {"authenticatorId": found["authenticatorId"], "credential": credential},
        )
    return cdp, found["authenticatorId"]


def log_in(page: Page, site: Site, reviewer: str) -> None:
    """The passkey login in the browser: the ceremony, with the reviewer's key in the page's
    virtual authenticator."""
    authenticator(page, site, reviewer)
    page.goto(f"{site.base}/login")
    page.click("#login")
    page.wait_for_url(f"{site.base}/queue")
    expect(page.locator("#me")).to_have_text(reviewer)


def signed_in(page: Page, site: Site, reviewer: str) -> None:
    """The page's browser holds the session of a login made with the reviewer's passkey over
    plain HTTP (the same ceremony, signed in software: test_console_http.py), for tests about
    what comes after a login; those about logging in use :func:`log_in`."""
    http = Reviewer(site, site.passkeys[reviewer])
    assert http.log_in(reviewer).status_code == 200
    page.context.add_cookies(
        [{"name": c.name, "value": str(c.value), "url": site.base} for c in http.http.cookies.jar]
    )
    http.close()
    page.goto(f"{site.base}/queue")
    expect(page.locator("#me")).to_have_text(reviewer)


def add_to_newsletter(site: Site, reason: str = "Adding the webinar leads") -> str:
    refs = [mk.lead_ref(i) for i in people("subscribed", 3, not_in=0)]
    plan = propose(
        site.runtime,
        "propose_add_to_list",
        list_ref=mk.list_ref(0),
        person_refs=refs,
        reason=reason,
    )
    return str(plan["change_id"])


def test_enrol_a_passkey_from_an_invite_then_log_in(settings: Settings, new_page: Any) -> None:
    with console_site(settings, reviewers=("compliance",)) as site:
        invited = CliRunner().invoke(
            app,
            [
                "reviewer",
                "invite",
                "--reviewer",
                "mops-lead",
                "--manifest",
                str(settings.manifest_path),
                "--home",
                str(settings.home),
            ],
            env={"MOPSGATE_CONSOLE_URL": site.base},
        )
        assert invited.exit_code == 0, invited.output
        link = re.search(rf"{re.escape(site.base)}/enrol/\S+", invited.output)
        assert link is not None
        page = new_page()
        cdp, auth_id = authenticator(page)
        page.goto(link.group(0))
        expect(page.locator("#invited")).to_have_text("mops-lead")
        page.click("#enrol")
        page.wait_for_url(f"{site.base}/enrol/done")
        table = page.locator("#passkey-table").inner_text()
        assert table.startswith("[[reviewers.mops-lead.passkeys]]")
        stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": auth_id})
        assert len(stored["credentials"]) == 1
        # Until the manifest owner declares it, the new passkey opens nothing.
        page.goto(f"{site.base}/login")
        page.click("#login")
        # The error shows beside the button, inside the page's main content.
        expect(page.locator("main .ceremony #status")).to_contain_text(
            "not declared in the manifest"
        )
        with settings.manifest_path.open("a", encoding="utf-8") as fh:
            fh.write("\n" + table + "\n")
        page.click("#login")
        page.wait_for_url(f"{site.base}/queue")
        expect(page.locator("#me")).to_have_text("mops-lead")
        # The link was single use.
        page.goto(link.group(0))
        expect(page.locator("#message")).to_contain_text("already been used")


def test_log_in_open_a_change_from_the_queue_and_reject_it(
    shared_site: Site, new_page: Any
) -> None:
    site = shared_site
    change_id = add_to_newsletter(site)
    page = new_page()
    log_in(page, site, "compliance")
    page.click(f"text={change_id}")
    page.wait_for_url(f"{site.base}/changes/{change_id}")
    expect(page.locator("#target-name")).to_have_text("Newsletter - Monthly")
    expect(page.locator("#feeds")).to_contain_text("Feeds email sends")
    expect(page.locator("td.verb").first).to_have_text("joins Newsletter - Monthly")
    page.fill("#reject-form textarea[name=note]", "Wrong list: these are webinar leads")
    page.click("#reject")
    page.wait_for_url(re.compile(r".*decided=rejected$"))
    expect(page.locator("#change-status")).to_have_text("rejected")
    expect(page.locator("#rejection")).to_contain_text("Wrong list: these are webinar leads")
    rejection = stored_change(site.settings, change_id).rejection
    assert rejection is not None and rejection.proof is not None
    assert rejection.proof.proof.method == "passkey"
    page.goto(f"{site.base}/history")
    expect(page.locator("#history")).to_contain_text("rejected by compliance")


def test_two_reviewers_approve_a_send_in_two_browsers(shared_site: Site, new_page: Any) -> None:
    site = shared_site
    plan = propose(
        site.runtime,
        "propose_trigger_campaign",
        campaign_ref=WELCOME_TRIGGER,
        person_refs=[mk.lead_ref(i) for i in people("subscribed", 3)],
    )
    change_id = str(plan["change_id"])
    assert plan["risk_class"] == "send" and plan["approvals"]["required"] == 2
    lead, dpo = new_page(), new_page()
    for page, reviewer in ((lead, "mops-lead"), (dpo, "compliance")):
        authenticator(page, site, reviewer)  # each browser signs its decision with its passkey
        signed_in(page, site, reviewer)
    for page, reviewer in ((lead, "mops-lead"), (dpo, "compliance")):
        page.goto(f"{site.base}/changes/{change_id}")
        expect(page.locator("#target-name")).to_have_text("Welcome Trigger - Send")
        if reviewer == "mops-lead":
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "console-change-page.png"), full_page=True)
        page.check("input[name=check-consent-basis]")
        page.fill("input[name=check-ticket]", f"MOPS-{len(reviewer)}")
        page.fill("#approve-form textarea[name=note]", f"checked by {reviewer}")
        page.click("#approve")
        page.wait_for_url(re.compile(r".*decided=approved$"))
    expect(lead.locator("#change-status")).to_have_text("proposed")  # as it was then
    expect(dpo.locator("#change-status")).to_have_text("approved")
    change = stored_change(site.settings, change_id)
    assert change.status is ChangeStatus.APPROVED
    assert sorted(a.reviewer for a in change.approvals) == ["compliance", "mops-lead"]
    for approval in change.approvals:
        assert approval.proof is not None
        assert approval.proof.statement.checklist["consent-basis"] == "yes"
    verify = CliRunner().invoke(app, ["audit", "verify", "--home", str(site.settings.home)])
    assert verify.exit_code == 0, verify.output
    assert (ARTIFACTS / "console-change-page.png").stat().st_size > 10_000


PHONE = {"width": 375, "height": 740}


def scrolls_sideways(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > window.innerWidth"))


def test_on_a_phone_the_records_come_before_the_buttons(shared_site: Site, new_page: Any) -> None:
    """A reviewer sees what they approve before the buttons, nothing scrolls sideways at
    375 px, and once they have approved, the page shows their decision, not a reject form."""
    site = shared_site
    change_id = add_to_newsletter(site, reason="x" * 300)  # one long unbroken word
    page = new_page(viewport=PHONE)
    authenticator(page, site, "mops-lead")
    page.goto(f"{site.base}/login")
    assert not scrolls_sideways(page)
    page.click("#login")
    page.wait_for_url(f"{site.base}/queue")
    for path in ("/queue", "/history", f"/changes/{change_id}"):
        page.goto(f"{site.base}{path}")
        assert not scrolls_sideways(page), path
    records, decide = page.locator("#records"), page.locator("#decide")
    assert records.bounding_box()["y"] < decide.bounding_box()["y"]
    summary = page.locator("#approval-summary")
    expect(summary).to_have_text("Needs 1 more approval; no approvals yet.")
    page.click("#approve")
    page.wait_for_url(re.compile(r".*decided=approved$"))
    expect(summary).to_have_text("Approved by 1 of 1 required reviewers — ready to apply.")
    expect(page.locator("#my-decision")).to_contain_text("You approved this change at")
    expect(page.locator("#reject-form")).to_have_count(0)
    expect(page.locator("#approve-form")).to_have_count(0)
    assert not scrolls_sideways(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-change-phone.png"), full_page=True)


def test_a_form_post_without_the_csrf_token_is_refused(shared_site: Site, new_page: Any) -> None:
    site = shared_site
    change_id = add_to_newsletter(site)
    page = new_page()
    signed_in(page, site, "mops-lead")
    post = """async ([url, fields]) => (await fetch(url,
                {method: "POST", body: new URLSearchParams(fields)})).status"""
    options = f"/changes/{change_id}/decide/options"
    assert page.evaluate(post, [options, {"decision": "approve"}]) == 403
    assert page.evaluate(post, [options, {"decision": "approve", "csrf": "forged"}]) == 403
    assert page.evaluate(post, ["/logout", {}]) == 403
    page.goto(f"{site.base}/queue")
    expect(page.locator("#me")).to_have_text("mops-lead")  # still logged in
    assert stored_change(site.settings, change_id).status is ChangeStatus.PROPOSED


def test_the_requester_cannot_approve(settings: Settings, new_page: Any) -> None:
    # A reviewer who shares the requesting principal's name (a person proposing through their
    # own assistant) must not approve their own change.
    same_name = '\n[reviewers.assistant]\nname = "Ada"\nroles = ["mops"]\n'
    same_name += 'risk_classes = ["audience"]\n'
    with console_site(settings, ("assistant",), extra_manifest=same_name) as site:
        change_id = add_to_newsletter(site)
        page = new_page()
        signed_in(page, site, "assistant")
        page.goto(f"{site.base}/changes/{change_id}")
        expect(page.locator("#why-not")).to_contain_text("You proposed this change")
        expect(page.locator("#approve")).to_have_count(0)
        status = page.evaluate(
            """async (url) => (await fetch(url, {method: "POST",
                 headers: {"X-CSRF-Token": document.querySelector('meta[name=csrf-token]').content},
                 body: new URLSearchParams({decision: "approve",
                   csrf: document.querySelector('meta[name=csrf-token]').content})})).status""",
            f"/changes/{change_id}/decide/options",
        )
        assert status == 403
        refused = [r for r in audit_rows(settings) if r["tool"] == "review approve"]
        assert refused[-1]["error_code"] == "self_approval"
        assert stored_change(settings, change_id).approvals == []


def test_untrusted_text_renders_inertly(shared_site: Site, new_page: Any) -> None:
    site = shared_site
    change_id = add_to_newsletter(site, reason=EVIL)
    page = new_page()
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    signed_in(page, site, "mops-lead")
    page.goto(f"{site.base}/changes/{change_id}")
    reason = page.locator("#reason").inner_text()
    assert "<script>window.__pwned = 1</script>" in reason
    assert "<U+202E> APPROVED by compliance" in reason
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main img").count() == 0
    assert page.locator("main script").count() == 0
    assert dialogs == []
    page.goto(f"{site.base}/queue")
    assert "<script>" in page.locator("#queue").inner_text()
    assert page.evaluate("window.__pwned") is None
