"""Charts for the risk report as inline SVG, drawn on the server.

The HTML report must be one file that prints and archives as it is: no script, no fonts or
images fetched from anywhere. So charts are plain SVG elements built here from the report's
counts (every label escaped), sized in user units so they scale on screen and paper alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from mopsgate.governance.report_model import Count

BAR = 16
GAP = 6
LABEL_W = 190
WIDTH = 640
INK = "#1f2937"
FILL = "#2563eb"
ALERT = "#dc2626"
MUTED = "#9ca3af"


def _svg(width: int, height: int, title: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" role="img" aria-label="{escape(title)}" class="chart">'
        f"<title>{escape(title)}</title>{''.join(body)}</svg>"
    )


def bar_chart(items: Sequence[Count], title: str, *, color: str = FILL) -> str:
    """Horizontal bars, one per key, longest first as given; an empty list says so."""
    if not items:
        return _svg(WIDTH, 28, title, [_text(4, 18, "none in the period", MUTED)])
    top = max(i.count for i in items) or 1
    room = WIDTH - LABEL_W - 60
    body: list[str] = []
    for n, item in enumerate(items):
        y = n * (BAR + GAP)
        width = max(1, round(room * item.count / top))
        body.append(_text(LABEL_W - 8, y + BAR - 4, item.key, INK, anchor="end"))
        body.append(
            f'<rect x="{LABEL_W}" y="{y}" width="{width}" height="{BAR}" fill="{color}" rx="2"/>'
        )
        body.append(_text(LABEL_W + width + 6, y + BAR - 4, str(item.count), INK))
    return _svg(WIDTH, len(items) * (BAR + GAP), title, body)


def day_chart(calls: Sequence[Count], denials: Sequence[Count], title: str) -> str:
    """Calls per day as columns, the day's denials overlaid in red; first and last day
    labelled."""
    if not calls:
        return _svg(WIDTH, 28, title, [_text(4, 18, "no calls in the period", MUTED)])
    height, base = 140, 120
    denied = {c.key: c.count for c in denials}
    top = max(c.count for c in calls) or 1
    step = (WIDTH - 20) / len(calls)
    column = max(1.0, step * 0.8)
    body: list[str] = [
        f'<line x1="10" y1="{base}" x2="{WIDTH - 10}" y2="{base}" stroke="{MUTED}"/>'
    ]
    for n, day in enumerate(calls):
        x = 10 + n * step
        h = (base - 10) * day.count / top
        d = (base - 10) * denied.get(day.key, 0) / top
        body.append(
            f'<rect x="{x:.1f}" y="{base - h:.1f}" width="{column:.1f}" height="{h:.1f}" '
            f'fill="{FILL}"><title>{escape(day.key)}: {day.count} calls</title></rect>'
        )
        if d:
            body.append(
                f'<rect x="{x:.1f}" y="{base - d:.1f}" width="{column:.1f}" height="{d:.1f}" '
                f'fill="{ALERT}"><title>{escape(day.key)}: {denied[day.key]} denied</title></rect>'
            )
    body.append(_text(10, height - 4, calls[0].key, INK))
    if len(calls) > 1:
        body.append(_text(WIDTH - 10, height - 4, calls[-1].key, INK, anchor="end"))
    body.append(_text(WIDTH - 10, 12, f"max {top} calls/day", MUTED, anchor="end"))
    return _svg(WIDTH, height, title, body)


def _text(x: float, y: float, text: str, color: str, *, anchor: str = "start") -> str:
    return (
        f'<text x="{x}" y="{y}" fill="{color}" font-size="12" text-anchor="{anchor}" '
        f'font-family="sans-serif">{escape(text)}</text>'
    )
