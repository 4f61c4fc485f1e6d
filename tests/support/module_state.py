"""State that lives as long as a test module: the ``settings`` fixture's state directory (the
shipped manifest with the reviewers' signing keys declared, the in-memory sandbox) and the
reviewers' private keys, for module-scoped fixtures (``tests/conftest.py``'s are per test).

For tests that only read what one setup wrote: building it once per module spares the suite
the same runtime, proposals and reviews test after test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mopsgate.server.settings import Settings
from tests.conftest import REVIEWERS, ROOT
from tests.support.reviewers import declare_keys, install_keys


def module_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """As the ``settings`` fixture, in a directory of the module's own."""
    folder = tmp_path_factory.mktemp("module")
    manifest = folder / "permissions.toml"
    shutil.copy(ROOT / "permissions.toml", manifest)
    declare_keys(manifest, REVIEWERS)
    return Settings(
        manifest_path=manifest,
        home=folder / "home",
        sandbox="memory",
        manifest_settle_seconds=0.0,
    )


def module_keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """As the ``reviewer_config`` fixture: an XDG config dir holding the reviewers' keys (set
    ``XDG_CONFIG_HOME`` to it while the module's setup signs)."""
    config = tmp_path_factory.mktemp("xdg-config")
    install_keys(config, REVIEWERS)
    return config
