"""A directory where ``chattr +i`` stops writes through descriptors a process already holds.

What the immutable attribute prevents depends on the filesystem. ext4, xfs and btrfs refuse
every write to an immutable file, even through a descriptor opened before (EPERM), as a
read-only remount does (EROFS). tmpfs, where ``make test`` keeps its temporary state, refuses
only *new* opens for writing: a server holding its database and write-ahead log open goes on
writing them, and its rows are as durable as tmpfs makes anything. A test of "the database
turned read-only under a running server" therefore needs a directory that is probed to refuse
such writes; where there is none (no ``chattr``, not root, only tmpfs), it is skipped, saying
why.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

CANDIDATES = ("/var/tmp", "/tmp")


def _chattr(flag: str, path: Path) -> bool:
    return subprocess.run(["chattr", flag, str(path)], capture_output=True).returncode == 0


def _refuses_open_writers(folder: str) -> bool:
    """Whether a file made immutable in ``folder`` refuses a write through an open descriptor."""
    try:
        fd, name = tempfile.mkstemp(prefix="mopsgate-immutable-probe-", dir=folder)
    except OSError:
        return False
    try:
        if not _chattr("+i", Path(name)):
            return False
        try:
            os.pwrite(fd, b"x", 0)
        except PermissionError:
            return True
        finally:
            _chattr("-i", Path(name))
        return False
    finally:
        os.close(fd)
        os.unlink(name)


@functools.cache
def enforcing_folder() -> str | None:
    """A temporary-file folder whose filesystem refuses writes to an immutable open file."""
    if shutil.which("chattr") is None:
        return None
    for folder in (tempfile.gettempdir(), *CANDIDATES):
        if os.path.isdir(folder) and _refuses_open_writers(folder):
            return folder
    return None


@contextlib.contextmanager
def enforcing_tmp_dir() -> Iterator[Path]:
    """A fresh directory on a filesystem where ``immutable`` holds against open writers."""
    folder = enforcing_folder()
    if folder is None:
        pytest.skip(
            "no filesystem here refuses writes to an immutable file through an open descriptor "
            "(needs root, chattr, and ext4/xfs/btrfs rather than tmpfs)"
        )
    made = Path(tempfile.mkdtemp(prefix="mopsgate-l08-", dir=folder))
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


@contextlib.contextmanager
def immutable(paths: list[Path]) -> Iterator[None]:
    """Every path immutable inside the block (the attribute is cleared however it ends)."""
    done: list[Path] = []
    try:
        for path in paths:
            assert _chattr("+i", path), f"chattr +i {path} failed"
            done.append(path)
        yield
    finally:
        for path in done:
            _chattr("-i", path)
