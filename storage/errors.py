"""What can go wrong below the ports, said so that an operator knows what to do.

Each is a :class:`GovernanceError`, so a tool call that meets one fails closed with a clear,
audited error instead of a traceback.
"""

from __future__ import annotations

from mopsgate.governance.errors import GovernanceError


class StorageUnavailable(GovernanceError):
    """The database could not be read or written (missing, locked too long, full, corrupt)."""

    code = "storage_unavailable"


class StorageNotFound(StorageUnavailable):
    """There is no database where one was expected (a reader never creates one)."""

    code = "storage_not_found"


class SchemaMismatch(StorageUnavailable):
    """The database's schema version is not the one this mopsgate was built for."""

    code = "schema_mismatch"


class SchemaTooOld(SchemaMismatch):
    code = "schema_too_old"


class SchemaTooNew(SchemaMismatch):
    code = "schema_too_new"
