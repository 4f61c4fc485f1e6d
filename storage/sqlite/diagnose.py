"""Why SQLite refused, said as what happened and what to do: one line an operator can act on.

"OperationalError: database is locked" with a traceback told an operator neither that another
process holds the lock nor what to do about it; "attempt to write a readonly database" did not
say that the file or its directory is read-only for this user. The primary result code says
which failure it is; the message names the file, says that nothing was changed, and what to do.

A file that stops taking writes after it was opened (a read-only remount, the immutable
attribute) reaches SQLite as EROFS/EPERM on a descriptor it already holds, which it reports as
a plain I/O error: the file and its filesystem are asked, so the operator is not sent looking
for a failing disk.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

# Primary SQLite result codes (https://sqlite.org/rescode.html).
_PERM, _BUSY, _LOCKED, _READONLY, _IOERR, _CORRUPT, _FULL, _CANTOPEN, _NOTADB = (
    3, 5, 6, 8, 10, 11, 13, 14, 26,
)  # fmt: skip
READ_ONLY_COPIES = (
    "read-only copies can be read with `mopsgate audit verify --home DIR` (and `audit tail`, "
    "`audit query`, `report risk-review`, `review list`, `manifest history`)"
)


def _primary(exc: BaseException) -> int | None:
    if isinstance(exc, sqlite3.Error):
        code = getattr(exc, "sqlite_errorcode", None)
        return None if code is None else int(code) & 0xFF
    if isinstance(exc, PermissionError) or (
        isinstance(exc, OSError) and exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM)
    ):
        return _READONLY
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return _FULL
    return None


def diagnose(path: str | Path, exc: BaseException) -> tuple[str, str] | None:
    """(what happened, what to do) for a failure we can name; None for anything else."""
    code = _primary(exc)
    folder = Path(path).parent
    if code in (_BUSY, _LOCKED):
        return (
            f"the database at {path} is locked: another process has held a write lock on it "
            "for longer than this command waits.",
            "Nothing was changed. Retry once that process is done (MOPSGATE_LOCK_WAIT_MS sets "
            "how long to wait, in ms); if the lock never clears, look for a stuck mopsgate or "
            f"sqlite3 process holding it (e.g. `fuser {path}`).",
        )
    if code in (_READONLY, _PERM):
        return (
            f"the database at {path} is read-only for this user (the file or its directory "
            f"{folder} cannot be written).",
            f"Nothing was changed. Run mopsgate as the user that owns {folder}, or make it "
            f"writable; {READ_ONLY_COPIES}.",
        )
    if code == _CANTOPEN:
        return (
            f"the database at {path} cannot be opened (its directory is missing or not "
            "accessible to this user).",
            "Check --home / MOPSGATE_HOME and the directory's permissions.",
        )
    if code == _FULL:
        return (
            f"the disk holding the database at {path} is full.",
            "Nothing was changed. Free some space, then retry.",
        )
    if code in (_CORRUPT, _NOTADB):
        return (
            f"the file at {path} is damaged or is not a mopsgate database.",
            "Restore it from a backup; `mopsgate audit verify` on a copy names the first row "
            "that cannot be trusted.",
        )
    if code == _IOERR and refuses_writes(path):
        return (
            f"the database at {path} refuses writes since it was opened: its filesystem is "
            "mounted read-only, or the file or its write-ahead log is immutable.",
            "Nothing was changed. Make it writable again (remount it read-write; `lsattr` "
            f"shows the immutable attribute, `chattr -i` clears it), then retry; "
            f"{READ_ONLY_COPIES}.",
        )
    if code == _IOERR:
        return (
            f"the disk failed while reading or writing the database at {path} (I/O error).",
            "Check the disk and the filesystem, then retry.",
        )
    return None


def refuses_writes(path: str | Path) -> bool:
    """The filesystem under ``path`` is read-only, or the file or its write-ahead log may not
    be written (immutable, even to root)."""
    target = Path(path)
    try:
        if os.statvfs(target.parent).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    files = (target, Path(f"{target}-wal"))
    return any(f.exists() and not os.access(f, os.W_OK) for f in files)


def is_read_only(exc: BaseException) -> bool:
    """A failure that a read-only copy of the file explains (see ``audit_read``)."""
    return _primary(exc) in (_READONLY, _PERM, _CANTOPEN)
