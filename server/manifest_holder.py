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

A valid edit that widens permissions (``governance/manifest_widening``) is not applied until
reviewers of the version in force have approved exactly that change (catalogue M-17): ``gate``
counts the approvals, and while none suffice the version in force stays, the refusal is reported
once, and the edit is looked at again every ``recheck_seconds`` so an approval given later puts
it in force without anyone touching the file. ``start`` judges the file against the version
last in force when the server opens, so a restart does not get round the approval.
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
from mopsgate.governance.manifest_approval import ApprovalTally, required_approvals
from mopsgate.governance.manifest_diff import manifest_changes, text_diff
from mopsgate.governance.manifest_load import (
    load_manifest,
    load_manifest_text,
    manifest_digest,
)
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.manifest_widening import unapproved_ok, widenings
from mopsgate.server.file_stamp import StatKey, stat_key
from mopsgate.server.waiver_overlay import WaiverOverlay

log = logging.getLogger("mopsgate.manifest")
MAX_DIFF_LINES = 400  # of the text diff an audit row keeps


@dataclass(frozen=True)
class ManifestEvent:
    kind: str  # "reloaded" | "reload_refused"
    old_digest: str
    new_digest: str | None
    message: str
    text: str | None = None  # the new version's text (the refused one's, when it was readable)
    # A valid version refused because it widens permissions unapproved: its digest (what a
    # reviewer approves), what it widens, and the readable diff against the version in force.
    candidate: str | None = None
    widens: tuple[str, ...] = ()
    diff: tuple[str, ...] = ()


Listener = Callable[[ManifestEvent], Awaitable[None]]
# Counts the approvals of the change from the version in force to a widening one (app.py reads
# them from the audit log); without one, no widening edit can take effect.
Gate = Callable[[Manifest, str, Manifest, str], Awaitable[ApprovalTally]]


class ManifestHolder:
    def __init__(
        self,
        path: Path,
        catalogue: Catalogue,
        *,
        settle_seconds: float = 0.0,
        clock: Callable[[], float] = time.time,
        recheck_seconds: float = 1.0,
    ) -> None:
        self.path = path
        self.catalogue = catalogue
        self.settle_seconds = settle_seconds
        self.clock = clock
        self._stat = stat_key(path)
        self.manifest, self.text = _load_file(path, catalogue)  # raises ManifestError
        self.digest = manifest_digest(self.manifest)
        self._refused_hash: str | None = None
        self.recheck_seconds = recheck_seconds
        self.gate: Gate | None = None
        # The widening version waiting for approval (its digest), and when it was last checked.
        self._waiting: str | None = None
        self._checked_at = 0.0
        self._reloading = asyncio.Lock()
        self.listeners: list[Listener] = []
        # Told after the listeners (the audit row first): keeping the version in the history
        # asks git, which is slow, and must not delay the row that says the manifest changed.
        self.recorder: Listener | None = None
        # The exceptions in force, laid over the manifest once storage is open (see app.py).
        self.overlay: WaiverOverlay | None = None

    async def current(self) -> tuple[Manifest, str]:
        """The manifest in force, widened by the exceptions in force, and the digest of the
        manifest itself (what decisions are signed against and audit rows name)."""
        if self._reloading.locked() or self._due(stat_key(self.path)):
            # One reload at a time: a call arriving while another awaits the approvals waits
            # too, rather than being served the version the reload is about to replace.
            async with self._reloading:
                key = stat_key(self.path)
                if key != self._stat:
                    if key is not None and self.clock() - key[0] / 1e9 < self.settle_seconds:
                        return await self._in_force()  # still being written, perhaps: not yet
                    self._stat = key
                    await self._reload()
                elif self._due(key):
                    await self._reload()  # an approval may have arrived since
        return await self._in_force()

    def _due(self, key: StatKey | None) -> bool:
        if key != self._stat:
            return True
        return self._waiting is not None and self.clock() - self._checked_at >= self.recheck_seconds

    async def start(self, baseline: tuple[str, str] | None) -> None:
        """At open, before any call: the version in force is the one last put in force (the
        history's ``baseline``: digest and text), and the file is judged against it like any
        edit, so an unapproved widening edit made while the server was down — or between two
        stdio sessions — is refused too. Without a history the file as it is now is taken: the
        first version recorded is where the change process starts."""
        if baseline is None:
            try:
                self.manifest, self.text = _load_file(self.path, self.catalogue)
            except ManifestError:
                return  # keep the version read at start; the next call reports the file
            self.digest = manifest_digest(self.manifest)
            self._stat = stat_key(self.path)
            return
        if baseline[0] == self.digest:
            return
        try:
            kept = load_manifest_text(baseline[1], "the manifest in force", self.catalogue)
        except ManifestError as exc:  # an older mopsgate's version this one cannot read
            log.warning("the last manifest in force no longer loads (%s); the file is", exc)
            return
        self.manifest, self.digest, self.text = kept, manifest_digest(kept), baseline[1]
        self._stat = stat_key(self.path)
        await self._reload()

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
            self._waiting = None
            if text_hash != self._refused_hash:
                self._refused_hash = text_hash
                await self._refuse(_describe(exc), raw.decode("utf-8", errors="replace"))
            return
        new_digest = manifest_digest(new)
        self._refused_hash = None
        if new_digest == self.digest:
            self._waiting = None
            return
        old, old_text = self.digest, self.text
        # What changed, in a reviewer's words, goes into the audit row with both digests and
        # the text diff, so any reload can be read from the log alone (catalogue M-17).
        changes = "; ".join(manifest_changes(old_text, text))
        diff = tuple(text_diff(old_text, text, old[:12], new_digest[:12])[:MAX_DIFF_LINES])
        widens = tuple(widenings(self.manifest, new))
        approval = ""
        if widens and (exempt := unapproved_ok(self.manifest, new, widens)):
            approval = f"; applied unapproved: {exempt}"
        elif widens:
            self._checked_at = self.clock()
            verdict = await self._tally(new, new_digest)
            if not verdict.approved:
                if self._waiting != new_digest:
                    self._waiting = new_digest
                    await self._refuse_widening(new_digest, widens, verdict, text, diff)
                return
            approval = f"; widening approved by {verdict.describe()}"
        self._waiting = None
        self.manifest, self.digest, self.text = new, new_digest, text
        log.warning("manifest reloaded: %s -> %s", old[:12], new_digest[:12])
        message = f"manifest {old[:12]} replaced by {new_digest[:12]}: {changes}"
        if widens:
            message += f"; widens: {'; '.join(widens)}{approval}"
        event = ManifestEvent("reloaded", old, new_digest, message, text, widens=widens, diff=diff)
        await self._emit(event)

    async def _tally(self, new: Manifest, new_digest: str) -> ApprovalTally:
        if self.gate is None:  # storage not open: nothing can be shown to be approved
            return ApprovalTally(required=required_approvals(self.manifest, new))
        return await self.gate(self.manifest, self.digest, new, new_digest)

    async def _refuse_widening(
        self,
        new_digest: str,
        widens: tuple[str, ...],
        verdict: ApprovalTally,
        text: str,
        diff: tuple[str, ...],
    ) -> None:
        """Keep the version in force; say what the edit widens and how to get it approved."""
        why = f" ({'; '.join(verdict.problems[:3])})" if verdict.problems else ""
        message = (
            f"manifest {new_digest[:12]} widens permissions ({'; '.join(widens)}) and has "
            f"{verdict.describe()}{why}, so {self.digest[:12]} stays in force. To put it in "
            f"force, a reviewer runs `mopsgate manifest approve {new_digest[:12]}`; it applies "
            "by itself once approved"
        )
        signers = sorted(n for n, r in self.manifest.reviewers.items() if r.keys)
        if len(signers) < verdict.required:
            message += (
                f". Only {len(signers)} reviewer(s) of the manifest in force have a signing key "
                f"({', '.join(signers) or 'none'}) and {verdict.required} must approve: declare "
                "keys first (`mopsgate reviewer keygen`; while nobody has one, an edit that only "
                "declares keys applies at once)"
            )
        log.error("manifest change refused: %s", message)
        event = ManifestEvent(
            "reload_refused", self.digest, None, message, text, new_digest, widens, diff
        )
        await self._emit(event)

    async def _refuse(self, message: str, text: str | None) -> None:
        log.error("manifest change refused, keeping %s in force: %s", self.digest[:12], message)
        await self._emit(ManifestEvent("reload_refused", self.digest, None, message, text))

    async def _emit(self, event: ManifestEvent) -> None:
        for listener in list(self.listeners):  # a server may stop meanwhile
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


WATCH_SECONDS = 1.0  # how often a serving process looks at the file when no call arrives


async def watch_manifest(holder: ManifestHolder, interval: float = WATCH_SECONDS) -> None:
    """Notice edits even when no call arrives, so clients hear tools/list_changed promptly."""
    while True:
        await asyncio.sleep(interval)
        try:
            await holder.current()
        except Exception:  # the watcher must never die; the next call re-checks anyway
            log.exception("manifest watcher failed")
