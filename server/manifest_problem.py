"""Why a command cannot use the manifest, in one line an operator can act on."""

from __future__ import annotations

from pathlib import Path

from mopsgate.governance.errors import ManifestError


def unusable_manifest(path: Path, exc: ManifestError) -> str:
    """A file that is not there (a command run from another directory, most often) says where
    it was looked for and how to point at one; one that is there names its first problem."""
    if not path.exists():
        return (
            f"no manifest at {path.absolute()}; pass --manifest (or set MOPSGATE_MANIFEST) "
            "to point at your permissions.toml"
        )
    first = str(exc.problems[0]) if exc.problems else exc.message
    return f"{path} is not a valid manifest ({first}); run 'mopsgate manifest check'"
