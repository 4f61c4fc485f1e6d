"""The reviewer's diff in colour, and tables that stay readable in a narrow terminal.

Built from ``Text`` segments of :func:`~mopsgate.governance.diff_lines.diff_lines`, never from
markup strings, so ``[bold]`` in a CRM field stays text, and untrusted text keeps one colour of
its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.console import Console, Group, RenderableType
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from mopsgate.governance.change_model import Change
from mopsgate.governance.diff_lines import UNTRUSTED, diff_lines


def render_rich(change: Change) -> Group:
    lines = []
    for line in diff_lines(change):
        text = Text()
        for segment, style in line:
            text.append(segment, style="cyan" if style == UNTRUSTED else style)
        lines.append(text)
    return Group(*lines)


def fitted(
    console: Console, tables: Sequence[Table], stacked: Callable[[int], RenderableType]
) -> RenderableType:
    """The first of ``tables`` whose every cell fits on one line of ``console``; otherwise
    ``stacked(width)``. A table that does not fit would fold ids and names mid-word or cut
    them off with an ellipsis — an id someone must copy, or evidence, made unreadable."""
    unbounded = console.options.update_width(1_000_000)
    for table in tables:
        if Measurement.get(console, unbounded, table).maximum <= console.width:
            return table
    return stacked(console.width)


def wrapped(words: Sequence[str], width: int, first: str, then: str) -> list[str]:
    """``words`` joined by two spaces, broken only between words; the first line starts with
    ``first``, the others with ``then``."""
    lines: list[str] = []
    line = ""
    for word in words:
        if not line:
            line = (then if lines else first) + word
        elif len(line) + 2 + len(word) > width:
            lines.append(line)
            line = then + word
        else:
            line = f"{line}  {word}"
    if line:
        lines.append(line)
    return lines


def paragraphs(items: Sequence[tuple[Sequence[str], Sequence[str]]], width: int) -> Group:
    """One paragraph per item: its first words from the left margin (the first in bold: what
    the item is), the rest indented, every line broken only between words. Text, never
    markup; a single word longer than the line is folded rather than cut."""
    indent = "    "
    lines: list[Text] = []
    for first, rest in items:
        head = wrapped(first, width, "", indent)
        for i, line in enumerate(head + wrapped(rest, width, indent, indent)):
            text = Text(line, no_wrap=False, overflow="fold")
            if i == 0 and first:
                text.stylize("bold", 0, len(first[0]))
            lines.append(text)
    return Group(*lines)
