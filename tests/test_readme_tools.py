"""The README's tool table is part of the product: it must list exactly the tools the server
serves, with the risk class governance enforces. A failure prints the row to paste."""

from __future__ import annotations

import re
from pathlib import Path

from mopsgate.governance.risk import RiskClass
from mopsgate.tools.registry import all_specs
from mopsgate.tools.spec import ConnectorNeed

README = Path(__file__).resolve().parent.parent / "README.md"
SPECS = all_specs()
NO_CONNECTOR = "—"  # the risk cell of the change-lifecycle row: those tools name no connector
INHERITED = {"propose_revert": "the original's class", "propose_finish": "the original's class"}


def tool_rows() -> list[tuple[list[str], str]]:
    """(tool names, risk cell) of each row of the table under ``## Tools``."""
    section = README.read_text().split("\n## Tools\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if not line.startswith("|") or len(cells) < 3 or set(cells[0]) <= {"-", " "}:
            continue
        names = re.findall(r"`([a-z_]+)`", cells[0])
        if names:
            rows.append((names, cells[1]))
    return rows


def suggested_row(name: str) -> str:
    spec = SPECS[name]
    return f"| `{name}` | {spec.risk.value} | {spec.title} |"


def test_every_tool_appears_exactly_once_and_nothing_else():
    listed = [name for names, _ in tool_rows() for name in names]
    missing = sorted(set(SPECS) - set(listed))
    assert not missing, "README lacks these tools; add:\n" + "\n".join(map(suggested_row, missing))
    assert not sorted(set(listed) - set(SPECS)), "README lists tools the server does not serve"
    twice = sorted({n for n in listed if listed.count(n) > 1})
    assert not twice, f"README lists these tools more than once: {twice}"


def test_risk_cells_match_the_catalogue():
    classes = {c.value for c in RiskClass}
    for names, cell in tool_rows():
        first = re.split(r"[\s(]", cell, maxsplit=1)[0]
        for name in names:
            spec = SPECS[name]
            if name in INHERITED:
                assert cell == INHERITED[name], suggested_row(name)
            elif cell == NO_CONNECTOR:
                assert spec.needs is not ConnectorNeed.ARGUMENT, (
                    f"{name} names a connector, so its row needs its risk class: "
                    + suggested_row(name)
                )
                assert not name.startswith("propose_"), "a proposal always has a risk class: " + (
                    suggested_row(name)
                )
            else:
                assert first in classes, f"unknown risk class {first!r} in the row of {name}"
                assert first == spec.risk.value, f"{name} is {spec.risk.value}: " + suggested_row(
                    name
                )


def test_the_tool_count_is_the_catalogue_s():
    section = README.read_text().split("\n## Tools\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"The catalogue has (\d+) tools", section)
    assert found, "the Tools section must say how many tools there are"
    assert int(found.group(1)) == len(SPECS), f"the catalogue has {len(SPECS)} tools"
