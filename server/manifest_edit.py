"""Declaring a reviewer's credential in a sandbox manifest, for the one-command first run.

Declaring credentials is the manifest owner's act, reviewed like any policy change. On a
manifest whose connectors are all sandboxes (the emulators; nothing real can be touched) a
newcomer may do it with ``mopsgate reviewer enrol``: the table is appended to the file, but
only if the result is a valid manifest, and never when any connector is production — there is
no setting that changes that.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from mopsgate.governance.catalogue import Catalogue
from mopsgate.governance.errors import ManifestError
from mopsgate.governance.manifest_load import load_manifest_text


class ManifestEditRefused(Exception):
    """The manifest was not changed; the message says why."""


def declare_in_sandbox(path: Path, table: str, catalogue: Catalogue) -> None:
    try:
        text = path.read_text(encoding="utf-8")
        current = load_manifest_text(text, str(path), catalogue)
    except (OSError, ManifestError) as exc:
        raise ManifestEditRefused(f"{path} cannot be read as a valid manifest ({exc})") from exc
    production = sorted(n for n, c in current.connectors.items() if c.environment == "production")
    if production:
        raise ManifestEditRefused(
            f"{path} has production connectors ({', '.join(production)}); credentials are "
            "declared there by the manifest owner, as a reviewed edit"
        )
    new = (
        text.rstrip("\n") + "\n\n# Declared by `mopsgate reviewer enrol` (sandbox only).\n" + table
    )
    try:
        load_manifest_text(new, str(path), catalogue)
    except ManifestError as exc:
        problems = "; ".join(str(p) for p in exc.problems[:3])
        raise ManifestEditRefused(f"the result would not be a valid manifest: {problems}") from exc
    mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(new)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
