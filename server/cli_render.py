"""The reviewer's diff in colour, for the terminal.

Built from ``Text`` segments of :func:`~mopsgate.governance.diff_lines.diff_lines`, never from
markup strings, so ``[bold]`` in a CRM field stays text, and untrusted text keeps one colour of
its own.
"""

from __future__ import annotations

from rich.console import Group
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
