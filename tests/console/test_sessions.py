"""Console sessions live on the server: idle ones and old ones end for every copy of the cookie,
and a new login never reuses an id or a CSRF token."""

from __future__ import annotations

from mopsgate.server.console.sessions import Sessions


class Ticks:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_an_idle_session_ends_and_activity_keeps_one_alive() -> None:
    clock = Ticks()
    sessions = Sessions(idle_seconds=900, max_seconds=8 * 3600, clock=clock)
    session = sessions.new("mops-lead", "cred")
    clock.t += 899
    assert sessions.get(session.id) is session  # touched: idle time starts again
    clock.t += 899
    assert sessions.get(session.id) is session
    clock.t += 901
    assert sessions.get(session.id) is None
    assert sessions.get(session.id) is None  # gone for good, not only for this request


def test_a_session_ends_after_its_maximum_age_however_busy() -> None:
    clock = Ticks()
    sessions = Sessions(idle_seconds=900, max_seconds=3600, clock=clock)
    session = sessions.new("compliance")
    for _ in range(4):
        clock.t += 800
        assert sessions.get(session.id) is session
    clock.t += 800
    assert sessions.get(session.id) is None


def test_logins_get_fresh_ids_and_tokens_and_logout_is_everywhere() -> None:
    sessions = Sessions(idle_seconds=900, max_seconds=3600)
    a, b = sessions.new("mops-lead"), sessions.new("mops-lead")
    assert a.id != b.id and a.csrf != b.csrf and len(a.id) >= 40
    assert sessions.end_reviewer("mops-lead") == 2
    assert sessions.get(a.id) is None and sessions.get(b.id) is None
    assert sessions.get(None) is None and sessions.get("forged") is None
