"""Reading a period from the command line: ``--since 90d`` and ``--until 2026-09-30``.

Shared by ``mopsgate report`` and ``mopsgate audit query`` so both accept the same spellings:
a span before the end (``90d``, ``12w``, ``48h``) or a date / date-time (UTC unless it says).
"""

from __future__ import annotations

import datetime as dt
import re

import typer

_SPAN = re.compile(r"^(\d+)([dwh])$")
_UNITS = {"d": "days", "w": "weeks", "h": "hours"}


def bad_option(message: str) -> typer.Exit:
    typer.echo(f"mopsgate: {message}", err=True)
    return typer.Exit(2)


def parse_moment(text: str, option: str) -> dt.datetime:
    try:
        at = dt.datetime.fromisoformat(text.strip())
    except ValueError as exc:
        raise bad_option(
            f"{option} {text!r} is neither a span like 90d, 12w, 48h nor a date like "
            "2026-09-01 (or 2026-09-01T12:00)"
        ) from exc
    return at if at.tzinfo else at.replace(tzinfo=dt.UTC)


def parse_since(text: str, until: dt.datetime) -> dt.datetime:
    """``90d``, ``12w``, ``48h`` before ``until``, or a date / date-time."""
    m = _SPAN.match(text.strip())
    if m:
        try:
            return until - dt.timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
        except OverflowError as exc:  # a span reaching before the year 1
            raise bad_option(
                f"--since {text!r} reaches back before any date; give a shorter span or a date"
            ) from exc
    return parse_moment(text, "--since")
