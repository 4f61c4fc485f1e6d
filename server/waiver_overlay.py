"""The exceptions in force, laid over the manifest in force, for every call.

Reading the exceptions table on every call would cost a database hop each time; instead the
CLI touches ``<home>/exceptions.stamp`` after every grant and revocation, and the overlay
re-reads only when that file changed (one ``stat`` per call, like the manifest itself), when
the manifest changed, or when the next exception's expiry has passed — so an exception lapses
by itself, to the second, with nothing to run. An exception the manifest no longer admits
(its use case removed, say) is left out and logged, never applied in part.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from mopsgate.governance.audit_chain import AuditEvent
from mopsgate.governance.change_model import utcnow
from mopsgate.governance.errors import GovernanceError
from mopsgate.governance.manifest_model import Manifest
from mopsgate.governance.waivers import Waiver, apply_waivers, lapse_event
from mopsgate.server.file_stamp import stat_key

log = logging.getLogger("mopsgate.exceptions")
STAMP = "exceptions.stamp"

Loader = Callable[[], Awaitable[Sequence[Waiver]]]
Lapses = Callable[[dt.datetime, Callable[[Waiver], AuditEvent]], Awaitable[Sequence[Waiver]]]


def touch_stamp(home: Path) -> None:
    """Tell running servers the exceptions changed."""
    path = home / STAMP
    path.write_text(utcnow().isoformat() + "\n", encoding="utf-8")


def in_force(
    manifest: Manifest, waivers: Sequence[Waiver], now: dt.datetime
) -> tuple[Manifest, list[Waiver]]:
    """The manifest widened by every active exception it admits, and those exceptions."""
    applied: list[Waiver] = []
    effective = manifest
    for w in sorted(waivers, key=lambda w: (w.granted_at, w.id)):
        if w.state(now) != "active":
            continue
        try:
            effective = apply_waivers(manifest, [*applied, w])
        except GovernanceError as exc:
            log.error("exception %s is not applied: %s", w.id, exc.message)
            continue
        applied.append(w)
    return effective, applied


def lapsed(w: Waiver, now: dt.datetime) -> bool:
    """Ended by its expiry (not revoked before it)."""
    return w.expires_at <= now and (w.revoked_at is None or w.revoked_at > w.expires_at)


class WaiverOverlay:
    def __init__(
        self,
        home: Path,
        load: Loader,
        clock: Callable[[], dt.datetime] = utcnow,
        record_lapses: Lapses | None = None,
    ) -> None:
        self._stamp = home / STAMP
        self._load = load
        self._clock = clock
        self._record_lapses = record_lapses
        self._noted: set[str] = set()  # lapses this process saw recorded
        self._key: tuple[int, int, int] | bool | None = False  # False: never read
        self._digest: str | None = None
        self._waivers: Sequence[Waiver] = ()
        self._until: dt.datetime | None = None
        self._effective: Manifest | None = None

    async def apply(self, manifest: Manifest, digest: str) -> Manifest:
        now = self._clock()
        key = stat_key(self._stamp)
        if key != self._key:
            self._waivers = await self._load()
            self._key = key
            self._effective = None
        if (
            self._effective is None
            or digest != self._digest
            or (self._until is not None and now >= self._until)
        ):
            self._effective, applied = in_force(manifest, self._waivers, now)
            self._digest = digest
            self._until = min((w.expires_at for w in applied), default=None)
        await self._note_lapses(now)
        return self._effective

    async def _note_lapses(self, now: dt.datetime) -> None:
        """The first time this process sees an exception past its expiry, its lapse goes into
        the audit log (once in all, however many processes see it). If the row cannot be
        written it is tried again at the next call; the lapse itself has happened regardless."""
        due = [w for w in self._waivers if lapsed(w, now) and w.id not in self._noted]
        if not due or self._record_lapses is None:
            return
        try:
            await self._record_lapses(now, lapse_event)
        except GovernanceError as exc:
            log.error("the lapse of %s could not be recorded: %s", due[0].id, exc.message)
            return
        self._noted.update(w.id for w in due)
