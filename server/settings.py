"""Where things live. Every command reads the same settings, from flags, the environment or
`.env` (in that order of precedence), so a reviewer's CLI and a running server always agree on
which manifest and which state directory are in force."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets
import stat
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from mopsgate.governance.confirm_token import Keyring
from mopsgate.storage import StorageConfig

SANDBOX_STATES = ("persistent", "memory")
# A command's --database-url, for the duration of that command (set by the option every CLI
# command that opens state gets, see cli_errors.py): every load_settings() inside it sees it.
DATABASE_URL_FLAG: ContextVar[str | None] = ContextVar("mopsgate_database_url", default=None)


def load_dotenv() -> None:
    """Read the first ``.env`` from the working directory up to the root, variables already
    set winning. The working directory, not the installed package's folder: an operator runs
    ``mopsgate`` from the folder that holds their ``.env``, and a pip or pipx install puts the
    package far from it (python-dotenv's default for a script starts at the caller's file, so
    only a checkout with its virtualenv inside found the file). python-dotenv is imported only
    when there is such a file: most serve starts have none and wait for their first answer,
    and importing it compiles a dozen regular expressions."""
    found = _find_dotenv()
    if found:
        from dotenv import load_dotenv as load

        load(found, override=False)


def _find_dotenv() -> str:
    """The first ``.env`` (a file or a pipe) from the working directory up to the root, or
    "" when there is none."""
    folder = os.getcwd()
    while True:
        candidate = os.path.join(folder, ".env")
        with contextlib.suppress(OSError):
            mode = os.stat(candidate).st_mode
            if stat.S_ISREG(mode) or stat.S_ISFIFO(mode):
                return candidate
        parent = os.path.dirname(folder)
        if parent == folder:
            return ""
        folder = parent


@dataclass(frozen=True)
class Settings:
    manifest_path: Path
    home: Path
    # "persistent": the sandbox emulators keep their data in ``sandbox_path``, shared by every
    # process on this state directory; "memory": each process starts from the seed and forgets
    # (tests and benchmarks choose it explicitly; MOPSGATE_SANDBOX=memory does for a server).
    sandbox: str = "persistent"
    # MOPSGATE_DATABASE_URL / --database-url: "postgresql://…" puts all shared state in one
    # PostgreSQL database (several replicas); None keeps the embedded SQLite file in home.
    database_url: str | None = None
    # MOPSGATE_SIGNING_SECRET_FILE: the confirmation-token secret every replica must share;
    # None keeps <home>/secret.key, created on first use.
    secret_file: Path | None = None
    # An edit of the manifest takes effect once the file has not been modified for this long,
    # so a file caught half-written is never applied (catalogue M-15). Tests that edit the
    # manifest and call at once choose 0.
    manifest_settle_seconds: float = 1.0
    # MOPSGATE_LOCK_WAIT_MS: how long a command or a call waits for a write lock another
    # process holds (SQLite's busy timeout, PostgreSQL's lock_timeout) before it gives up,
    # changing nothing. None: the storage default (5 s).
    lock_wait_ms: int | None = None

    @property
    def db_path(self) -> Path:
        return self.home / "mopsgate.db"

    @property
    def shared_database(self) -> bool:
        """State lives in a database server that several replicas may share."""
        return self.storage().is_postgres

    @property
    def sandbox_path(self) -> Path:
        """The sandbox emulators' data: a file of its own, never mopsgate's database."""
        return self.home / "sandbox.db"

    def storage(self, *, busy_timeout_ms: int | None = None) -> StorageConfig:
        """The database every command and the server use."""
        cfg = (
            StorageConfig(self.database_url)
            if self.database_url
            else StorageConfig.sqlite(self.db_path)
        )
        wait = busy_timeout_ms if busy_timeout_ms is not None else self.lock_wait_ms
        if wait is None:
            return cfg
        return StorageConfig(cfg.url, busy_timeout_ms=wait)

    @property
    def secret_path(self) -> Path:
        return self.home / "secret.key"


DEFAULT_CONSOLE_PORT = 8766


def console_url(env: Mapping[str, str] | None = None, *, port: int | None = None) -> str:
    """Where reviewers open the review console: MOPSGATE_CONSOLE_URL, else localhost. The one
    place that says so: the console's origin (its passkeys are bound to it), invite links,
    the propose result and notifications all use it, so they never disagree. ``env`` is the
    server's environment; without it, the process's (with .env loaded, as the CLI does)."""
    if env is None:
        load_dotenv()
        env = os.environ
    configured = (env.get("MOPSGATE_CONSOLE_URL") or "").strip().rstrip("/")
    return configured or f"http://localhost:{port or DEFAULT_CONSOLE_PORT}"


def console_idle_seconds() -> float:
    """How long a console session may sit idle before the reviewer logs in again."""
    raw = os.environ.get("MOPSGATE_CONSOLE_IDLE_SECONDS", "").strip()
    try:
        value = float(raw) if raw else 900.0
    except ValueError:
        value = 0.0
    if not 0 < value < float("inf"):
        raise SettingsError(f"MOPSGATE_CONSOLE_IDLE_SECONDS must be seconds above 0, not {raw!r}")
    return value


class SettingsError(ValueError):
    """A setting from the environment that cannot be used; the message names it."""


@dataclass(frozen=True)
class HttpSessionSettings:
    """Limits on streamable-HTTP sessions (the 2025-era handshake keeps one per client).

    Without them an abandoned client's session lived until the SDK's 30-minute default, and
    sessions of one principal were limited only by the global cap: an attack run left 59 open.
    A session idle (no request in flight, no open event stream) for ``idle_seconds`` is closed;
    a principal opening one more than ``per_principal`` closes its least recently used idle
    session (a busy one is never cut off; if all are busy the new one is refused with 429);
    ``max_sessions`` caps all principals together (503 beyond it).
    """

    idle_seconds: float = 600.0
    per_principal: int = 16
    max_sessions: int = 1000


_SESSION_ENV = {
    "MOPSGATE_HTTP_SESSION_IDLE_SECONDS": "idle_seconds",
    "MOPSGATE_HTTP_SESSIONS_PER_PRINCIPAL": "per_principal",
    "MOPSGATE_HTTP_MAX_SESSIONS": "max_sessions",
}


def load_http_session_settings() -> HttpSessionSettings:
    """From the environment or ``.env``; anything unset keeps its default."""
    load_dotenv()
    values: dict[str, float | int] = {}
    for variable, name in _SESSION_ENV.items():
        raw = os.environ.get(variable)
        if raw is None or raw.strip() == "":
            continue
        kind = float if name == "idle_seconds" else int
        try:
            value = kind(raw)
        except ValueError:
            value = 0
        if not 0 < value < float("inf"):
            unit = "a number of seconds" if kind is float else "a whole number"
            raise SettingsError(f"{variable} must be {unit} above 0, not {raw!r}")
        values[name] = value
    return HttpSessionSettings(**values)  # type: ignore[arg-type]


def load_settings(
    manifest: str | Path | None = None,
    home: str | Path | None = None,
    database_url: str | None = None,
) -> Settings:
    load_dotenv()
    manifest_path = Path(manifest or os.environ.get("MOPSGATE_MANIFEST") or "permissions.toml")
    home_path = Path(home or os.environ.get("MOPSGATE_HOME") or ".mopsgate")
    sandbox = (os.environ.get("MOPSGATE_SANDBOX") or "persistent").strip().lower()
    url = (
        database_url
        or DATABASE_URL_FLAG.get()
        or os.environ.get("MOPSGATE_DATABASE_URL", "").strip()
        or None
    )
    secret_file = os.environ.get("MOPSGATE_SIGNING_SECRET_FILE", "").strip()
    return Settings(
        manifest_path=manifest_path,
        home=home_path,
        sandbox=sandbox,
        database_url=url,
        secret_file=Path(secret_file) if secret_file else None,
        lock_wait_ms=lock_wait_ms(os.environ),
    )


MAX_LOCK_WAIT_MS = 600_000


def lock_wait_ms(env: Mapping[str, str]) -> int | None:
    """MOPSGATE_LOCK_WAIT_MS, checked: a whole number of milliseconds from 1 to 600000 (ten
    minutes), or unset for the default. Anything else is refused rather than guessed: 0 would
    turn every brief lock into a failure, and a huge wait would hang every command."""
    raw = env.get("MOPSGATE_LOCK_WAIT_MS", "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 0 < value <= MAX_LOCK_WAIT_MS:
        raise SettingsError(
            f"MOPSGATE_LOCK_WAIT_MS must be whole milliseconds from 1 to {MAX_LOCK_WAIT_MS}, "
            f"not {raw!r}; unset it for the default of 5000"
        )
    return value


def ensure_home(settings: Settings) -> None:
    """Create the state directory (0700) on first use; nothing in it is for other users. An
    existing one loses any access for others but gains nothing: a directory made read-only
    (exported evidence, a read-only copy) stays read-only, and writing to it then fails with a
    message saying so, instead of mopsgate quietly making it writable again."""
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(settings.home.stat().st_mode)
    if mode & 0o077:
        os.chmod(settings.home, mode & 0o700)


PROVISION_HINT = (
    "set MOPSGATE_SIGNING_SECRET_FILE to a file holding at least 32 random bytes, the same file "
    "(e.g. one secrets mount) for every replica; create it once with `head -c 32 /dev/urandom`"
)


def signing_secret(settings: Settings) -> bytes:
    """The confirmation-token secret. From MOPSGATE_SIGNING_SECRET_FILE when set (never
    created: it is provisioned once and mounted into every replica); otherwise
    ``<home>/secret.key``, created with 0600 permissions on first use. With a shared database
    and no secret file, refuse: each replica would create its own secret, and a token one
    replica signed would be refused as forged by every other."""
    if settings.secret_file is not None:
        return _read_secret(settings.secret_file, "MOPSGATE_SIGNING_SECRET_FILE")
    if settings.shared_database:
        raise SettingsError(
            "a PostgreSQL database is shared by replicas, which must all sign confirmation "
            f"tokens with one secret: {PROVISION_HINT}"
        )
    ensure_home(settings)
    path = settings.secret_path
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(secrets.token_bytes(32))
    return _read_secret(path, "it")


def secret_location(settings: Settings) -> Path:
    return settings.secret_file or settings.secret_path


def previous_paths(current: Path) -> tuple[Path, Path]:
    """Where a rotation keeps the replaced secret and the time until which it is honoured:
    beside the current one (the same secrets mount, for replicas)."""
    return (
        current.with_name(current.name + ".previous"),
        current.with_name(current.name + ".previous-until"),
    )


def signing_keyring(settings: Settings) -> Keyring:
    """The current secret, and the one a rotation replaced while its grace lasts
    (``mopsgate secret rotate``); a previous secret without a readable end is ignored."""
    current = signing_secret(settings)
    old_path, until_path = previous_paths(secret_location(settings))
    if not old_path.exists():
        return Keyring(current)
    try:
        until = dt.datetime.fromisoformat(until_path.read_text().strip())
    except (OSError, ValueError):
        return Keyring(current)
    if until.tzinfo is None:
        return Keyring(current)
    return Keyring(current, _read_secret(old_path, "the previous secret"), until)


def _read_secret(path: Path, name: str) -> bytes:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise SettingsError(
            f"the signing secret {path} cannot be read ({exc.strerror}); check {name}"
        ) from exc
    if len(data) < 32:
        raise SettingsError(f"the signing secret {path} is shorter than 32 bytes; replace it")
    return data
