-- 0008 time-boxed exceptions (#10): a reviewer's signed waiver of one limit of one use case,
-- until expires_at or until revoked (the revocation signed too). Never deleted: the report
-- lists the expired and revoked ones with the active.

CREATE TABLE exceptions (
    id TEXT PRIMARY KEY,
    use_case TEXT NOT NULL,
    what TEXT NOT NULL,
    granted_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    reviewer TEXT NOT NULL,
    ticket TEXT NOT NULL,
    reason TEXT NOT NULL,
    grant_proof TEXT NOT NULL,
    revoked_at TIMESTAMPTZ,
    revoked_by TEXT,
    revoke_reason TEXT,
    revoke_proof TEXT
);

CREATE INDEX exceptions_expires ON exceptions (expires_at);
