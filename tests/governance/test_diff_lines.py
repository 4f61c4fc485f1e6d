"""The reviewer's diff: complete, one line per value, untrusted text unable to pose as UI."""

from __future__ import annotations

from rich.console import Console

from mopsgate.governance.change_model import FieldChange, Plan, PlannedRecord
from mopsgate.governance.diff_lines import render_text, visible
from mopsgate.server.cli_render import render_rich
from tests.governance.change_factory import change


def test_visible_spells_out_hidden_characters() -> None:
    assert visible("a\u200bb\u202ec\n\x1b[31m") == '"a<U+200B>b<U+202E>c\\n<U+001B>[31m"'
    assert visible(None) == "(empty)"
    assert visible(42) == "42"
    assert visible("x" * 500, 10).endswith("(490 more characters)")


def test_text_diff_lists_every_kind_of_record() -> None:
    c = change()
    plan = Plan(
        operation="add_to_list",
        connector="hubspot",
        target="hubspot:list:7",
        records=[
            PlannedRecord(ref="hubspot:contact:1", action="add"),
            PlannedRecord(ref="hubspot:contact:2", action="noop"),
            PlannedRecord(ref="hubspot:contact:3", action="remove"),
            PlannedRecord(
                ref="hubspot:contact:4",
                action="update",
                changes=[FieldChange(field="company", before=None, after="Acme")],
            ),
        ],
        blocked=c.plan.blocked,
    )
    text = render_text(c.model_copy(update={"plan": plan}))
    assert "  + hubspot:contact:1 (add)" in text
    assert "  = hubspot:contact:2 (noop)" in text
    assert "  - hubspot:contact:3 (remove)" in text
    assert 'company: (empty) → "Acme"' in text
    assert "[opted_out]" in text
    assert "4 record(s), 1 field change(s), 1 add(s), 1 remove(s), 1 no-op(s), 1 blocked" in text


def test_rich_render_does_not_interpret_markup() -> None:
    c = change().model_copy(update={"reason": "[link=http://x]click[/link] [red]ok[/]"})
    console = Console(record=True, width=200, color_system=None)
    console.print(render_rich(c))
    out = console.export_text()
    assert "[link=http://x]click[/link] [red]ok[/]" in out
    assert out.strip() == render_text(c).strip()
