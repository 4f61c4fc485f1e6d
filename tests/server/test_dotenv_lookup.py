"""Every command reads the ``.env`` of the folder it is run from (or the nearest parent that
has one), wherever the package is installed, and imports python-dotenv only when there is
such a file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Run as a script from another folder, as the installed console script is: what load_settings
# reads, and whether python-dotenv was imported for it.
PROBE = """
import json, sys
from mopsgate.server import settings
had_dotenv = "dotenv" in sys.modules
found = settings.load_settings()
print(json.dumps({"home": str(found.home),
                  "imported": "dotenv" in sys.modules and not had_dotenv}))
"""


def _probe(cwd: Path, tmp_path: Path, **env: str) -> dict[str, object]:
    script = tmp_path / "elsewhere" / "probe.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(PROBE)
    environ = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), **env}
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environ,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    found: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return found


def test_the_dotenv_of_the_working_directory_is_read(tmp_path: Path):
    work = tmp_path / "ops"
    work.mkdir()
    (work / ".env").write_text("MOPSGATE_HOME=/srv/from-dotenv\n")
    found = _probe(work, tmp_path)
    assert found["home"] == "/srv/from-dotenv"
    assert found["imported"] is True


def test_the_nearest_parent_dotenv_is_read_from_a_subfolder(tmp_path: Path):
    (tmp_path / ".env").write_text("MOPSGATE_HOME=/srv/from-parent\n")
    work = tmp_path / "ops" / "deeper"
    work.mkdir(parents=True)
    assert _probe(work, tmp_path)["home"] == "/srv/from-parent"


def test_a_variable_already_set_wins_over_dotenv(tmp_path: Path):
    (tmp_path / ".env").write_text("MOPSGATE_HOME=/srv/from-dotenv\n")
    found = _probe(tmp_path, tmp_path, MOPSGATE_HOME="/srv/from-environment")
    assert found["home"] == "/srv/from-environment"


def test_without_dotenv_nothing_is_read_nor_imported(tmp_path: Path):
    found = _probe(tmp_path, tmp_path)
    assert found["home"] == ".mopsgate"
    assert found["imported"] is False
