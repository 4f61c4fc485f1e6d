"""Whether a file changed, for one ``stat`` per call: the manifest and the exceptions stamp are
re-read only when this key moves (an edit, a rewrite, a replace by rename, a deletion)."""

from __future__ import annotations

import os
from pathlib import Path

StatKey = tuple[int, int, int]


def stat_key(path: Path) -> StatKey | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)
