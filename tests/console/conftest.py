"""Console fixtures: a fresh console per test where the test needs fresh state (counts every
decision, the first read of a page, the manifest), and one console per module, with one
logged-in reviewer, for the tests that only add their own change and look at it.

A console costs a runtime, a desk, a uvicorn thread and a passkey login; most tests add one
change of their own and assert only about it, so sharing one console across a module changes
nothing they assert and spares the suite that setup test after test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mopsgate.server.settings import Settings
from tests.console.support import Reviewer, Site, console_site
from tests.support.module_state import module_settings


@pytest.fixture
def site(settings: Settings) -> Iterator[Site]:
    """A console of its own for this test, over the test's state directory."""
    with console_site(settings) as running:
        yield running


@pytest.fixture
def lead(site: Site) -> Iterator[Reviewer]:
    """mops-lead, logged in to this test's own console."""
    yield from _logged_in(site, "mops-lead")


@pytest.fixture(scope="module")
def shared_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One console for the whole module: for tests that assert only about their own change."""
    with console_site(module_settings(tmp_path_factory)) as running:
        yield running


@pytest.fixture(scope="module")
def shared_lead(shared_site: Site) -> Iterator[Reviewer]:
    """mops-lead, logged in once to the module's console."""
    yield from _logged_in(shared_site, "mops-lead")


def _logged_in(site: Site, name: str) -> Iterator[Reviewer]:
    reviewer = Reviewer(site, site.passkeys[name])
    assert reviewer.log_in(name).status_code == 200
    yield reviewer
    reviewer.close()
