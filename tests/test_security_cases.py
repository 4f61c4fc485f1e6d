"""tests/SECURITY_CASES.md lists every case of the security catalogue, once, with a status,
and every test it names exists — so a case cannot silently drop out of the table, and the
table cannot point at a test that was renamed or removed."""

from __future__ import annotations

import re
from pathlib import Path

TESTS = Path(__file__).resolve().parent
TABLE = TESTS / "SECURITY_CASES.md"
# The catalogue's §4, section by section: how many cases each has.
SECTIONS = {"M": 21, "T": 23, "I": 21, "U": 17, "L": 16, "X": 16, "C": 6}
CASES = [f"{s}-{n:02d}" for s, count in SECTIONS.items() for n in range(1, count + 1)]
STATUS = re.compile(r"^(covered|partly|open|not applicable \(.+\))$")
ROW = re.compile(r"^\| ([MTIULXC]-\d\d) \| ([^|]+?) \| (.*) \|$")
# `path/test_x.py::test_name[param]` or `::test_name` (same file as the one before); code
# paths (`governance/x.py`) are mentioned too and are not test references.
REF = re.compile(r"`((?:[\w/]*test_\w+\.py)?(?:::\w+)?)(?:\[[^\]]*\])?`")


def _rows() -> dict[str, tuple[str, str]]:
    rows: dict[str, tuple[str, str]] = {}
    for line in TABLE.read_text(encoding="utf-8").splitlines():
        if match := ROW.match(line):
            case, status, tests = match.groups()
            assert case not in rows, f"{case} is listed twice"
            rows[case] = (status, tests)
    return rows


def test_every_case_is_listed_once_with_a_status() -> None:
    rows = _rows()
    assert len(CASES) == 120
    assert [c for c in CASES if c not in rows] == [], "cases missing from the table"
    assert [c for c in rows if c not in CASES] == [], "rows for cases the catalogue lacks"
    bad = {c: s for c, (s, _) in rows.items() if not STATUS.match(s)}
    assert bad == {}, "status must be covered, partly, open or 'not applicable (why)'"
    for case, (status, tests) in rows.items():
        if status in ("covered", "partly"):
            assert "::" in tests or ".py" in tests, f"{case} is {status} but names no test"
        else:
            assert len(tests) > 20, f"{case}: say why it is {status}"


def test_every_named_test_exists() -> None:
    missing = []
    for case, (_, tests) in _rows().items():
        current: Path | None = None
        for ref in REF.findall(tests):
            path, _, name = ref.partition("::")
            if path:
                current = TESTS / path
                if not current.exists():
                    missing.append(f"{case}: {path}")
                    continue
            if not name or current is None or not current.exists():
                continue
            if not re.search(rf"def {name}\(", current.read_text(encoding="utf-8")):
                missing.append(f"{case}: {current.relative_to(TESTS)}::{name}")
    assert missing == []
