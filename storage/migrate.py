"""The schema's versions, shared by every backend: numbers, names, what is pending, and the
refusals when a database is older or newer than this mopsgate.

Each backend keeps one ``NNNN_name.sql`` per entry of :data:`MIGRATIONS` (a test compares the
sets), applies each pending one together with its ``schema_version`` row in one transaction, and
refuses to serve a database at any other version than :data:`HEAD`: running against an old
schema would fail on the first missing column in the middle of someone's apply, and running
against a newer one could silently drop what the newer version relies on.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass
from importlib.resources import files

from mopsgate import __version__
from mopsgate.storage.errors import SchemaTooNew, SchemaTooOld


@dataclass(frozen=True)
class Migration:
    version: int
    name: str

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "baseline"),
    Migration(2, "token_epoch"),
    Migration(3, "outbox"),
    Migration(4, "manifest_history"),
    Migration(5, "freeze_row"),
    Migration(6, "reviewer_proofs"),
    Migration(7, "audit_evidence"),
    Migration(8, "exceptions"),
)
HEAD = MIGRATIONS[-1].version


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database stands; ``current`` is None when there is no database yet."""

    where: str
    current: int | None
    head: int = HEAD

    @property
    def pending(self) -> list[Migration]:
        return pending(self.current or 0)

    @property
    def up_to_date(self) -> bool:
        return self.current == self.head


def pending(current: int) -> list[Migration]:
    """The migrations to apply, in order, to bring a database at ``current`` to HEAD."""
    return [m for m in MIGRATIONS if m.version > current]


def migration_files(package: str) -> dict[str, str]:
    """``NNNN_name`` → SQL text of every migration file a backend ships in
    ``<package>/migrations``."""
    folder = files(package) / "migrations"
    return {
        entry.name.removesuffix(".sql"): entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    }


def applied_by() -> str:
    """Who ran a migration, for its ``schema_version`` row."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = "unknown"
    return f"{user} (mopsgate {__version__})"


def too_old(where: str, current: int) -> SchemaTooOld:
    return SchemaTooOld(
        f"the database at {where} is at schema version {current}; this mopsgate needs "
        f"version {HEAD}",
        hint="Back it up, then run `mopsgate db upgrade` (`mopsgate db status` lists what it "
        "will apply).",
        details={"where": where, "current": current, "head": HEAD},
    )


def too_new(where: str, current: int) -> SchemaTooNew:
    return SchemaTooNew(
        f"the database at {where} was written by a newer mopsgate (schema version {current} "
        f"> {HEAD}); this one will not touch it",
        hint="Run the mopsgate version that wrote it (or a newer one).",
        details={"where": where, "current": current, "head": HEAD},
    )


def require_head(where: str, current: int) -> None:
    """Refuse any version but HEAD, with the command that fixes it."""
    if current < HEAD:
        raise too_old(where, current)
    if current > HEAD:
        raise too_new(where, current)
