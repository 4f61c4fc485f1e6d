"""Where a reviewer's private key lives: their own config directory, never the server's state.

``$XDG_CONFIG_HOME/mopsgate/reviewers/<name>.pem`` (``~/.config/…`` when XDG_CONFIG_HOME is
unset), created 0600 in a 0700 directory. A key under ``MOPSGATE_HOME`` is refused both when it
is made and when it is used: the state directory belongs to the server's account (and to any
assistant running as it), and a key there would let that account approve.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from mopsgate.governance.reviewer_keys import load_private_key, private_key_pem


class KeyFileError(Exception):
    """A key file that cannot be made or used; the message says why and what to do."""


def config_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path(env.get("HOME") or Path.home()) / ".config")
    return Path(base) / "mopsgate" / "reviewers"


def key_path(reviewer: str, env: Mapping[str, str] | None = None) -> Path:
    return config_dir(env) / f"{reviewer}.pem"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _refuse_state_dir(path: Path, home: Path) -> None:
    if _inside(path, home):
        raise KeyFileError(
            f"{path} is inside the state directory {home}; a reviewer's key must never live "
            "where the server (or an assistant running as it) can read it. Set XDG_CONFIG_HOME "
            "to a directory of your own"
        )


def write_new_key(path: Path, key: Ed25519PrivateKey, home: Path) -> None:
    """Create ``path`` 0600 (its folder 0700); an existing key is never overwritten."""
    _refuse_state_dir(path, home)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError as exc:
        raise KeyFileError(
            f"{path} already exists and holds a key; move it away first if you really mean to "
            "replace it (and have its public key removed from the manifest)"
        ) from exc
    with os.fdopen(fd, "wb") as fh:
        fh.write(private_key_pem(key))


def read_key(path: Path, home: Path, reviewer: str) -> Ed25519PrivateKey:
    _refuse_state_dir(path, home)
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        pem = path.read_bytes()
    except FileNotFoundError as exc:
        if path != key_path(reviewer):  # named with --key: a wrong path, not a missing key
            raise KeyFileError(
                f"there is no file {path}; check the --key path, or leave --key out to use "
                f"{reviewer}'s key in their config directory ({key_path(reviewer)})"
            ) from exc
        raise KeyFileError(
            f"no key for {reviewer} at {path}: run `mopsgate reviewer keygen --reviewer "
            f"{reviewer}` and have the manifest owner declare the printed key"
        ) from exc
    except OSError as exc:
        raise KeyFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    try:
        key = load_private_key(pem)
    except ValueError as exc:  # before the mode: chmod advice about a file that is no key misleads
        raise KeyFileError(f"{path} is not a usable key: {exc}") from exc
    if mode & 0o077:
        raise KeyFileError(
            f"{path} is readable by others (mode {mode:o}); run `chmod 600 {path}` and check "
            "nobody copied it"
        )
    return key
