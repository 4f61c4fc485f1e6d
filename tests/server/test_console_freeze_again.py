"""The console's freeze while applies are already frozen keeps the incident's reason and the
time the freeze began, as `mopsgate freeze` does (tests/cli/test_freeze_again.py)."""

from __future__ import annotations

from mopsgate.server.settings import Settings
from tests.conftest import audit_rows
from tests.console.support import Reviewer, console_site
from tests.support.changes import with_storage


def test_a_second_freeze_without_a_reason_keeps_the_first(settings: Settings) -> None:
    text = settings.manifest_path.read_text(encoding="utf-8")
    text = text.replace("[reviewers.mops-lead]\n", "[reviewers.mops-lead]\nmay_freeze = true\n")
    settings.manifest_path.write_text(text, encoding="utf-8")
    with console_site(settings) as site:
        lead = Reviewer(site, site.passkeys["mops-lead"])
        try:
            assert lead.log_in("mops-lead").status_code == 200
            for reason in ("incident 42", ""):
                lead.page("/queue")
                answer = lead.http.post("/freeze", data={"csrf": lead.csrf, "reason": reason})
                assert answer.status_code == 303, answer.text
        finally:
            lead.close()
    state = with_storage(settings, lambda s: s.freeze.state())
    assert state is not None and state.reason == "incident 42"
    rows = [(r["reason"], r["result_summary"]) for r in audit_rows(settings)
            if r["tool"] == "freeze"]  # fmt: skip
    assert rows == [
        ("incident 42", "applies frozen"),
        ("incident 42", "applies were already frozen"),
    ]
