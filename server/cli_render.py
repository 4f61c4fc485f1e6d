"""The reviewer's diff in colour, and tables that stay readable in a narrow terminal.

Built from ``Text`` segments of :func:`~mopsgate.governance.diff_lines.diff_lines`, never from
markup strings, so ``[bold]`` in a CRM field stays text, and untrusted text keeps one colour of
its own.
"""

from __future__ import annotations

import io
import textwrap
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
    """The first of ``tables`` that fits ``console`` without folding a word (every cell on one
    line, or wrapped columns that break only between words); otherwise ``stacked(width)``. A
    table that does not fit would fold ids and names mid-word or cut them off with an ellipsis
    — an id someone must copy, or evidence, made unreadable."""
    unbounded = console.options.update_width(1_000_000)
    for table in tables:
        measured = Measurement.get(console, unbounded, table)
        if measured.maximum <= console.width:
            return table
        if measured.minimum <= console.width and _words_whole(table, console.width):
            return table
    return stacked(console.width)


def _words_whole(table: Table, width: int) -> bool:
    """Whether ``table`` drawn ``width`` wide shows every word of its cells unbroken (rich may
    narrow a column below its longest word even when the words would all fit)."""
    drawn = Console(width=width, file=io.StringIO(), color_system=None, highlight=False)
    drawn.print(table)
    shown = drawn.file.getvalue()  # type: ignore[attr-defined]
    cells = (cell for column in table.columns for cell in (column.header, *column.cells))
    words = (word for cell in cells for word in str(cell).split())
    return all(word in shown for word in words)


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


def prose(text: str, width: int, indent: str = "    ") -> Group:
    """``text`` wrapped between words under an indent (a word longer than the line stays
    whole and runs over rather than being split). Text, never markup."""
    lines = textwrap.wrap(
        text,
        width,
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
    return Group(*(Text(line, no_wrap=False, overflow="fold") for line in lines or [indent]))
