"""Refuse an audit log on a network filesystem (catalogue L-13).

SQLite's WAL keeps its index in shared memory beside the database, and its locks are only as
good as the filesystem's: on NFS, SMB and the like two hosts (or one host after a reconnect)
can both believe they hold the write lock, and a hash chain written that way forks or loses
rows. So the audit log's directory must be on a local filesystem; the type is read from the
kernel's mount table (``/proc/self/mounts``), the mount point that holds the path deciding.
Where there is no mount table (not Linux), nothing is refused: the check only ever adds a
refusal, never a permission.
"""

from __future__ import annotations

import os
from pathlib import Path

MOUNTS = Path("/proc/self/mounts")
NETWORK_FILESYSTEMS = frozenset(
    {
        "nfs",
        "nfs4",
        "cifs",
        "smb3",
        "smbfs",
        "9p",
        "afs",
        "ceph",
        "glusterfs",
        "lustre",
        "gpfs",
        "davfs",
        "fuse.sshfs",
        "fuse.glusterfs",
        "fuse.s3fs",
        "fuse.rclone",
        "fuse.cephfs",
    }
)


def _unescape(field: str) -> str:
    """Mount points escape space, tab, newline and backslash as octal (``\\040``)."""
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def filesystem_type(path: str | Path, mounts: str | None = None) -> str | None:
    """The type of the filesystem holding ``path`` (its directory if it does not exist yet),
    or None when no mount table can be read."""
    if mounts is None:
        try:
            mounts = MOUNTS.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
    target = os.path.realpath(path)
    best, found = -1, None
    for line in mounts.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = _unescape(parts[1]).rstrip("/") or "/"
        inside = target == point or target.startswith(point if point == "/" else point + "/")
        if inside and len(point) > best:
            best, found = len(point), parts[2]
    return found


def network_filesystem(path: str | Path, mounts: str | None = None) -> str | None:
    """The network filesystem type ``path`` is on, or None if it is local (or unknown)."""
    kind = filesystem_type(path, mounts)
    return kind if kind in NETWORK_FILESYSTEMS else None
