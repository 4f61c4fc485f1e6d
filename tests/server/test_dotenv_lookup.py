"""Every command reads ``.env`` where python-dotenv finds it (the working directory under
``python -c``; the folder of the settings module and its parents for a script such as the
console script), without importing python-dotenv when there is no such file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Where the settings find .env, where python-dotenv itself would (asked from a function of the
# settings module's own file, as load_settings asks it), and what load_settings then reads.
PROBE = """
import json, sys
from mopsgate.server import settings
had_dotenv = "dotenv" in sys.modules
ours = settings._find_dotenv()
home = str(settings.load_settings().home)
imported = "dotenv" in sys.modules
scope = {}
exec(compile("from dotenv import find_dotenv\\ndef where():\\n    return find_dotenv()\\n",
             settings.__file__, "exec"), scope)
print(json.dumps({"ours": ours, "theirs": scope["where"](), "home": home,
                  "imported": imported and not had_dotenv}))
"""


def _probe(cwd: Path, *, as_script: bool) -> dict[str, object]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    if as_script:
        script = cwd / "probe.py"
        script.write_text(PROBE)
        argv = [sys.executable, str(script)]
    else:
        argv = [sys.executable, "-c", PROBE]
    proc = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return found


def test_dotenv_in_the_working_directory_is_read_under_python_c(tmp_path: Path):
    (tmp_path / ".env").write_text("MOPSGATE_HOME=/srv/from-dotenv\n")
    found = _probe(tmp_path, as_script=False)
    assert found["ours"] == found["theirs"] == str(tmp_path / ".env")
    assert found["home"] == "/srv/from-dotenv"
    assert found["imported"] is True


def test_without_dotenv_nothing_is_read_nor_imported(tmp_path: Path):
    found = _probe(tmp_path, as_script=False)
    assert found["ours"] == found["theirs"] == ""
    assert found["home"] == ".mopsgate"
    assert found["imported"] is False


def test_a_script_looks_where_python_dotenv_looks(tmp_path: Path):
    (tmp_path / ".env").write_text("MOPSGATE_HOME=/srv/not-for-scripts\n")
    found = _probe(tmp_path, as_script=True)
    assert found["ours"] == found["theirs"]
