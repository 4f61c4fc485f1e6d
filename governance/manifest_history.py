"""Every manifest version that came into force, or was refused, and who loaded it: pure types.

Kept by digest with its text, so a risk reviewer can ask which policy was in force at any time,
who changed it (the OS user; the git commit and author when the file is in a checkout) and
what a refused edit said (#10's `mopsgate manifest history` and `manifest diff`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

ManifestOutcome = Literal["in_force", "refused"]


@dataclass(frozen=True)
class ManifestLoad:
    """One attempt to put a manifest version in force."""

    digest: str  # the manifest digest; for a refused file, the sha256 of its text
    at: datetime
    outcome: ManifestOutcome
    loaded_by: str | None = None
    git_commit: str | None = None
    git_author: str | None = None
    reason: str | None = None  # why it was refused
