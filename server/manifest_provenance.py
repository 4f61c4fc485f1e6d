"""The manifest history as the server records it, and who put each version in force: the OS
user, and the git commit and author when the file is in a git checkout (``+dirty`` when the
file differs from that commit).

Asked of ``git`` itself, with a short timeout: a missing git, a file outside a checkout or a
slow disk leaves the commit unknown rather than holding up the server.
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from mopsgate.governance.change_model import utcnow
from mopsgate.governance.manifest_history import ManifestLoad, ManifestOutcome
from mopsgate.server.manifest_holder import ManifestEvent
from mopsgate.storage.api import ManifestHistory

log = logging.getLogger("mopsgate.manifest")
GIT_TIMEOUT_S = 3.0


@dataclass(frozen=True)
class Provenance:
    loaded_by: str | None
    git_commit: str | None
    git_author: str | None


def _git(path: Path, *args: str) -> subprocess.CompletedProcess[str] | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        return subprocess.run(  # noqa: S603  (a fixed argv, no shell; the path is an argument)
            [git, "-C", str(path.parent), *args],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None


def _os_user() -> str | None:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        return None


def provenance(path: Path) -> Provenance:
    user = _os_user()
    found = _git(path, "log", "-1", "--format=%H%x00%an <%ae>", "--", path.name)
    if found is None or found.returncode != 0 or "\0" not in found.stdout:
        return Provenance(user, None, None)
    commit, author = found.stdout.strip().split("\0", 1)
    dirty = _git(path, "diff", "--quiet", "HEAD", "--", path.name)
    if dirty is not None and dirty.returncode == 1:
        commit += "+dirty"
    return Provenance(user, commit, author)


def text_digest(text: str) -> str:
    """What a refused version is kept by: it has no manifest digest, only its text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def manifest_load(
    path: Path, digest: str, outcome: ManifestOutcome, reason: str | None = None
) -> ManifestLoad:
    who = provenance(path)
    return ManifestLoad(
        digest=digest,
        at=utcnow(),
        outcome=outcome,
        loaded_by=who.loaded_by,
        git_commit=who.git_commit,
        git_author=who.git_author,
        reason=reason,
    )


async def _last_in_force(history: ManifestHistory) -> ManifestLoad | None:
    versions = await history.versions()
    return next((v for v in reversed(versions) if v.outcome == "in_force"), None)


async def last_in_force(history: ManifestHistory) -> tuple[str, str] | None:
    """The digest and text of the version last put in force, if any: what a server starting
    judges the file against (``ManifestHolder.start``)."""
    last = await _last_in_force(history)
    if last is None:
        return None
    text = await history.text(last.digest)
    return None if text is None else (last.digest, text)


async def record_in_force(history: ManifestHistory, path: Path, digest: str, text: str) -> None:
    """At start: the version in force, unless it is the one last recorded in force (a stdio
    server starts once per session; the history records changes, not starts)."""
    last = await _last_in_force(history)
    if last is not None and last.digest == digest:
        return
    load = await asyncio.to_thread(manifest_load, path, digest, "in_force")
    await history.record(load, text)


async def record_event(history: ManifestHistory, path: Path, event: ManifestEvent) -> None:
    """A reload (the new version in force) or a refused edit (kept by its text's digest,
    with why)."""
    text = event.text or ""
    if event.kind == "reloaded" and event.new_digest is not None:
        load = await asyncio.to_thread(manifest_load, path, event.new_digest, "in_force")
    else:  # a valid version refused unapproved is kept by its digest, which approvals name
        digest = event.candidate or text_digest(text)
        load = await asyncio.to_thread(manifest_load, path, digest, "refused", event.message)
    await history.record(load, text)
