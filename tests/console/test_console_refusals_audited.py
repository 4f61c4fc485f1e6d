"""Every refusal in the console leaves an audit row, and a decision stands only with its own.

A session that is not logged in, a ceremony finished against another change than it began
on, a reviewer whose passkey was removed from the manifest between the two steps: each is
refused, names why, changes nothing, and is in the audit log with a reason code. An approval
whose audit row cannot be written (the log refuses every insert) is not stored.

The tests share one console (``shared_site``) and look at the audit rows written since they
began; the one that edits the manifest has a console of its own (``site``)."""

from __future__ import annotations

import sqlite3

import httpx

from mopsgate.governance.change_model import ChangeStatus
from tests.conftest import audit_rows
from tests.console.support import Reviewer, Site
from tests.console.test_console_http import add_to_newsletter
from tests.support.changes import stored_change


def started(lead: Reviewer, change_id: str) -> httpx.Response:
    """The first step of an approval: the passkey options, the ceremony under way."""
    lead.page(f"/changes/{change_id}")
    options = lead.http.post(
        f"/changes/{change_id}/decide/options",
        data={"csrf": lead.csrf, "decision": "approve", "note": "ok"},
        headers={"X-CSRF-Token": lead.csrf},
    )
    assert options.status_code == 200, options.text
    return options


def last_seq(site: Site) -> int:
    """Where the audit log ends now: rows after it are this test's."""
    rows = audit_rows(site.settings)
    return int(rows[-1]["seq"]) if rows else 0


def refusals(site: Site, code: str, since: int = 0) -> list[dict[str, object]]:
    return [
        r
        for r in audit_rows(site.settings)
        if r["seq"] > since and r["outcome"] == "refused" and r["error_code"] == code
    ]


def test_deciding_without_being_logged_in_is_audited(shared_site: Site) -> None:
    site, since = shared_site, last_seq(shared_site)
    change_id = str(add_to_newsletter(site)["change_id"])
    stranger = Reviewer(site, site.passkeys["mops-lead"])
    stranger.page("/login")  # a session and its CSRF token, but nobody logged in
    answer = stranger.http.post(
        f"/changes/{change_id}/decide/options",
        data={"csrf": stranger.csrf, "decision": "approve"},
        headers={"X-CSRF-Token": stranger.csrf},
    )
    stranger.close()
    forged = httpx.post(f"{site.base}/changes/{change_id}/decide/options", data={"csrf": "x"})
    assert answer.status_code == 403 and "not logged in" in answer.text
    assert forged.status_code == 403
    [row] = refusals(site, "not_logged_in", since)
    assert row["tool"] == "console decide" and row["change_id"] == change_id
    assert row["principal"] is None and row["kind"] == "review"
    assert [r["change_id"] for r in refusals(site, "refused", since)] == [change_id]  # the CSRF one
    assert stored_change(site.settings, change_id).status is ChangeStatus.PROPOSED


def test_a_ceremony_finished_on_another_change_is_audited(
    shared_site: Site, shared_lead: Reviewer
) -> None:
    site, lead, since = shared_site, shared_lead, last_seq(shared_site)
    first = str(add_to_newsletter(site, 2)["change_id"])
    second = str(add_to_newsletter(site, 3)["change_id"])
    options = started(lead, first)
    answer = lead.post_json(f"/changes/{second}/decide/verify", lead.assertion(options.json()))
    assert answer.status_code == 400 and "another change" in answer.text
    [row] = refusals(site, "other_change", since)
    assert row["principal"] == "mops-lead" and row["change_id"] == second
    for change_id in (first, second):
        assert stored_change(site.settings, change_id).status is ChangeStatus.PROPOSED


def test_a_reviewer_removed_mid_decision_is_refused_and_audited(site: Site, lead: Reviewer) -> None:
    change_id = str(add_to_newsletter(site)["change_id"])
    options = started(lead, change_id)
    path = site.settings.manifest_path
    path.write_text(
        path.read_text(encoding="utf-8").replace(site.passkeys["mops-lead"].table("mops-lead"), ""),
        encoding="utf-8",
    )
    answer = lead.post_json(f"/changes/{change_id}/decide/verify", lead.assertion(options.json()))
    assert answer.status_code == 403 and "not logged in" in answer.text
    [row] = refusals(site, "not_logged_in")
    assert row["principal"] is None and row["change_id"] == change_id
    assert stored_change(site.settings, change_id).approvals == []


def test_an_approval_without_its_audit_row_does_not_stand(
    shared_site: Site, shared_lead: Reviewer
) -> None:
    site, lead = shared_site, shared_lead
    change_id = str(add_to_newsletter(site)["change_id"])
    options = started(lead, change_id)
    conn = sqlite3.connect(site.settings.db_path)
    conn.execute(
        "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
    )
    conn.commit()
    try:
        answer = lead.post_json(
            f"/changes/{change_id}/decide/verify", lead.assertion(options.json())
        )
    finally:
        conn.execute("DROP TRIGGER audit_down")
        conn.commit()
        conn.close()
    assert answer.status_code == 503 and "audit log could not be written" in answer.text
    change = stored_change(site.settings, change_id)
    assert change.approvals == [] and change.status is ChangeStatus.PROPOSED
