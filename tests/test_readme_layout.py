"""The README's layout table is the picture of the house: one row per package folder, and the
packages each row says it imports are the ones its code imports."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMPORT = re.compile(r"^\s*(?:from|import) mopsgate\.(\w+)", re.MULTILINE)


def _rows() -> dict[str, set[str] | None]:
    """package -> the packages of ours it may import (None: all)."""
    section = (ROOT / "README.md").read_text().split("\n## Layout\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, set[str] | None] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not cells[0].startswith("`"):
            continue
        package = cells[0].strip("`/")
        imports = cells[2]
        rows[package] = None if imports == "all" else set(re.findall(r"`(\w+)`", imports))
    return rows


def test_every_package_folder_has_one_row() -> None:
    packages = {p.name for p in (ROOT / "mopsgate").iterdir() if p.is_symlink()}
    assert set(_rows()) == packages


def test_each_row_names_every_package_its_code_imports() -> None:
    for package, allowed in _rows().items():
        if allowed is None:
            continue
        code = "".join(p.read_text() for p in (ROOT / package).rglob("*.py"))
        imported = set(IMPORT.findall(code)) - {package}
        assert imported <= allowed, f"{package}/ imports {sorted(imported - allowed)} too"
