"""A change planned under another manifest than the one in force can be neither approved nor
applied: `review list` says "stale" for it (it said "proposed", so a reviewer opened it only to
be refused), and the console's queue tags it. A list still lists when the manifest is broken."""

from __future__ import annotations

import re

from typer.testing import CliRunner, Result

from mopsgate.server.cli import app
from mopsgate.server.settings import Settings
from tests.console.support import Reviewer, console_site
from tests.support.changes import with_storage
from tests.test_cli_signed_decisions import proposed

PURPOSE = "Keep campaign data tidy: fix job titles"


def review_list(settings: Settings, *status: str) -> Result:
    where = ["--manifest", str(settings.manifest_path), "--home", str(settings.home)]
    result = CliRunner().invoke(app, ["review", "list", *status, *where], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result


def reword_the_manifest(settings: Settings) -> None:
    """An edit that narrows nothing and widens nothing, yet gives the manifest a new digest."""
    text = settings.manifest_path.read_text(encoding="utf-8")
    settings.manifest_path.write_text(text.replace(PURPOSE, PURPOSE + " (reworded)"))


def test_review_list_says_stale(settings: Settings) -> None:
    change = proposed(settings)
    assert re.search(rf"^{change.id}\s+proposed\s", review_list(settings).stdout, re.M)
    reword_the_manifest(settings)
    assert re.search(rf"^{change.id}\s+stale\s", review_list(settings).stdout, re.M)
    # --status filters on what the list shows: it waits for nobody's review any more
    assert change.id not in review_list(settings, "--status", "proposed").stdout
    assert change.id in review_list(settings, "--status", "stale").stdout
    settings.manifest_path.write_text("not toml [", encoding="utf-8")
    assert re.search(rf"^{change.id}\s+proposed\s", review_list(settings).stdout, re.M)


def test_the_console_queue_tags_stale_changes(settings: Settings) -> None:
    with console_site(settings) as site:
        change = proposed(settings)  # planned under the manifest the console serves
        other = change.model_copy(update={"id": "chg_00000000aaaa", "manifest_digest": "0" * 64})
        with_storage(settings, lambda s: s.changes.insert(other))
        lead = Reviewer(site, site.passkeys["mops-lead"])
        try:
            assert lead.log_in("mops-lead").status_code == 200
            page = lead.page("/queue").text
        finally:
            lead.close()
    row = re.search(rf'<a href="/changes/{other.id}">.*?</td>', page, re.S)
    assert row is not None and ">stale</span>" in row[0], page
    fresh = re.search(rf'<a href="/changes/{change.id}">.*?</td>', page, re.S)
    assert fresh is not None and "stale" not in fresh[0]
