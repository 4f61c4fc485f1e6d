-- 0001 baseline: the tables mopsgate created before the schema was versioned, exactly as it
-- created them (IF NOT EXISTS), so a file from then is stamped version 1 as it stands.

CREATE TABLE IF NOT EXISTS audit_log (
    seq INTEGER PRIMARY KEY,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    principal TEXT,
    client_name TEXT,
    client_version TEXT,
    transport TEXT,
    tool TEXT,
    connector TEXT,
    arguments TEXT NOT NULL,
    decision TEXT NOT NULL,
    rule_id TEXT,
    reason TEXT,
    outcome TEXT NOT NULL,
    error_code TEXT,
    result_summary TEXT,
    upstream_calls INTEGER NOT NULL,
    duration_ms REAL NOT NULL,
    change_id TEXT,
    manifest_digest TEXT,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS changes (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    requester TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    n_records INTEGER NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS changes_status ON changes (status, expires_at);
CREATE INDEX IF NOT EXISTS changes_requester ON changes (requester, created_at);
CREATE INDEX IF NOT EXISTS changes_created ON changes (created_at);

CREATE TABLE IF NOT EXISTS approvals (
    change_id TEXT NOT NULL REFERENCES changes(id),
    reviewer TEXT NOT NULL,
    roles TEXT NOT NULL,
    note TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (change_id, reviewer)
);

CREATE TABLE IF NOT EXISTS applied_records (
    change_id TEXT NOT NULL REFERENCES changes(id),
    ref TEXT NOT NULL,
    ok INTEGER NOT NULL,
    code TEXT,
    message TEXT,
    after_image TEXT NOT NULL,
    written_at TEXT NOT NULL,
    PRIMARY KEY (change_id, ref)
);

CREATE TABLE IF NOT EXISTS used_nonces (
    nonce TEXT PRIMARY KEY,
    change_id TEXT NOT NULL,
    used_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS freeze_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    reason TEXT NOT NULL,
    frozen_by TEXT NOT NULL,
    frozen_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS bearer_tokens (
    token_hash TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE IF NOT EXISTS call_window (
    principal TEXT NOT NULL,
    second INTEGER NOT NULL,
    calls INTEGER NOT NULL,
    PRIMARY KEY (principal, second)
) WITHOUT ROWID;
