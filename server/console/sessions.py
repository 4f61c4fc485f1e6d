"""Console sessions, held on the server: the cookie carries only a random id.

Starlette's SessionMiddleware keeps the session in a signed (not encrypted) cookie, so logging
out cannot end a copy of the cookie someone kept, and everything in it is readable. Here the
cookie is 256 random bits naming a server-side entry; logout and idle expiry end it for every
copy at once. Each session has its CSRF token and, while a WebAuthn ceremony is under way, the
ceremony's one-time state (its challenge never leaves the server except as the challenge).
Sessions live in this process's memory: restarting the console logs everyone out.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

COOKIE = "mopsgate_console"
MAX_SESSIONS = 10_000


@dataclass
class Session:
    id: str
    csrf: str
    created: float
    seen: float
    reviewer: str | None = None
    credential: str | None = None  # the passkey id the reviewer logged in with
    ceremony: dict[str, Any] | None = field(default=None, repr=False)
    enrolled: str | None = None  # the passkey table to show once after enrolment


class Sessions:
    def __init__(
        self,
        *,
        idle_seconds: float,
        max_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self._clock = clock
        self._by_id: OrderedDict[str, Session] = OrderedDict()

    def get(self, session_id: str | None) -> Session | None:
        """The live session with this id (touched), or None; an expired one is dropped."""
        if not session_id:
            return None
        session = self._by_id.get(session_id)
        if session is None:
            return None
        now = self._clock()
        if now - session.seen > self.idle_seconds or now - session.created > self.max_seconds:
            self.drop(session_id)
            return None
        session.seen = now
        self._by_id.move_to_end(session_id)
        return session

    def new(self, reviewer: str | None = None, credential: str | None = None) -> Session:
        """A fresh session (a new id and CSRF token: never reuse one across a login)."""
        now = self._clock()
        session = Session(
            id=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            created=now,
            seen=now,
            reviewer=reviewer,
            credential=credential,
        )
        self._by_id[session.id] = session
        while len(self._by_id) > MAX_SESSIONS:  # bounded: the least recently used go first
            self._by_id.popitem(last=False)
        return session

    def drop(self, session_id: str) -> None:
        self._by_id.pop(session_id, None)

    def end_reviewer(self, reviewer: str) -> int:
        """Log a reviewer out everywhere (their credential was removed from the manifest)."""
        gone = [s.id for s in self._by_id.values() if s.reviewer == reviewer]
        for session_id in gone:
            self.drop(session_id)
        return len(gone)
