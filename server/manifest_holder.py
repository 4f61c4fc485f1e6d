"""Keeps the manifest in force and swaps it when the file changes (watching files is the
server's job; reading and validating a manifest is the core's, ``governance/manifest_load``).

Every call asks ``current()``, which costs one ``stat``; a changed file is re-read and, only if
it is entirely valid, replaces the version in force. An invalid edit never takes effect: the last
good version stays, and the refusal is reported (logged and audited by the listener), once per
distinct bad content so a broken file does not flood the log.

A file modified less than ``settle_seconds`` ago is not read yet (catalogue M-15): an editor or
``cp`` that truncates and then writes leaves a prefix that may well be a valid manifest — one
missing its last deny rules. The edit takes effect at the first call or watcher tick after the
file has settled.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from mopsgate.governance.catalogue import Catalogue
from mopsgate.governance.errors import ManifestError
from mopsgate.governance.manifest_diff import manifest_changes
from mopsgate.governance.manifest_load import (
    load_manifest,
    manifest_digest,
)
from mopsgate.governance.manifest_model import Manifest
from mopsgate.server.file_stamp import stat_key
from mopsgate.server.waiver_overlay import WaiverOverlay

log = logging.getLogger("mopsgate.manifest")


@dataclass(frozen=True)
class ManifestEvent:
    kind: str  # "reloaded" | "reload_refused"
    old_digest: str
    new_digest: str | None
    message: str
    text: str | None = None  # the new version's text (the refused one's, when it was readable)


Listener = Callable[[ManifestEvent], Awaitable[None]]


class ManifestHolder:
    def __init__(
        self,
        path: Path,
        catalogue: Catalogue,
        *,
        settle_seconds: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self.catalogue = catalogue
        self.settle_seconds = settle_seconds
        self.clock = clock
        self._stat = stat_key(path)
        self.manifest, self.text = _load_file(path, catalogue)  # raises ManifestError
        self.digest = manifest_digest(self.manifest)
        self._refused_hash: str | None = None
        self.listeners: list[Listener] = []
        # Told after the listeners (the audit row first): keeping the version in the history
        # asks git, which is slow, and must not delay the row that says the manifest changed.
        self.recorder: Listener | None = None
        # The exceptions in force, laid over the manifest once storage is open (see app.py).
        self.overlay: WaiverOverlay | None = None

    async def current(self) -> tuple[Manifest, str]:
        """The manifest in force, widened by the exceptions in force, and the digest of the
        manifest itself (what decisions are signed against and audit rows name)."""
        key = stat_key(self.path)
        if key != self._stat:
            if key is not None and self.clock() - key[0] / 1e9 < self.settle_seconds:
                return await self._in_force()  # still being written, perhaps: not yet
            self._stat = key
            await self._reload()
        return await self._in_force()

    async def _in_force(self) -> tuple[Manifest, str]:
        if self.overlay is None:
            return self.manifest, self.digest
        return await self.overlay.apply(self.manifest, self.digest), self.digest

    async def _reload(self) -> None:
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            await self._refuse(f"cannot read {self.path}: {exc.strerror}", None)
            return
        text_hash = hashlib.sha256(raw).hexdigest()
        try:
            new, text = _load(raw, self.path, self.catalogue)
        except ManifestError as exc:
            if text_hash != self._refused_hash:
                self._refused_hash = text_hash
                await self._refuse(_describe(exc), raw.decode("utf-8", errors="replace"))
            return
        new_digest = manifest_digest(new)
        self._refused_hash = None
        if new_digest == self.digest:
            return
        old, old_text = self.digest, self.text
        self.manifest, self.digest, self.text = new, new_digest, text
        log.warning("manifest reloaded: %s -> %s", old[:12], new_digest[:12])
        # What changed, in a reviewer's words, goes into the audit row with both digests, so
        # a widening reload can be read from the log alone (catalogue M-17).
        changes = "; ".join(manifest_changes(old_text, text))
        message = f"manifest {old[:12]} replaced by {new_digest[:12]}: {changes}"
        await self._emit(ManifestEvent("reloaded", old, new_digest, message, text))

    async def _refuse(self, message: str, text: str | None) -> None:
        log.error("manifest change refused, keeping %s in force: %s", self.digest[:12], message)
        await self._emit(ManifestEvent("reload_refused", self.digest, None, message, text))

    async def _emit(self, event: ManifestEvent) -> None:
        for listener in self.listeners:
            await listener(event)
        if self.recorder is not None:
            await self.recorder(event)


def _load_file(path: Path, catalogue: Catalogue) -> tuple[Manifest, str]:
    try:
        raw = path.read_bytes()
    except OSError:
        raw = b""
    return _load(raw, path, catalogue)


def _load(raw: bytes, path: Path, catalogue: Catalogue) -> tuple[Manifest, str]:
    """The manifest, through every check ``load_manifest`` makes of the file (its permissions
    included), and the text just read from it, which the history keeps."""
    return load_manifest(path, catalogue), raw.decode("utf-8", errors="replace")


def _describe(exc: ManifestError) -> str:
    problems = exc.problems
    if not problems:
        return exc.message
    shown = "; ".join(str(p) for p in problems[:5])
    more = f" (+{len(problems) - 5} more)" if len(problems) > 5 else ""
    return shown + more


async def watch_manifest(holder: ManifestHolder, interval: float = 1.0) -> None:
    """Notice edits even when no call arrives, so clients hear tools/list_changed promptly."""
    while True:
        await asyncio.sleep(interval)
        try:
            await holder.current()
        except Exception:  # the watcher must never die; the next call re-checks anyway
            log.exception("manifest watcher failed")
