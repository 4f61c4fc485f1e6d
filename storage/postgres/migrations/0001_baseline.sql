-- 0001 baseline (PostgreSQL): the tables of SQLite's 0001 in PostgreSQL's types, plus the head
-- of the audit chain. The audit log keeps exactly the values it hashes (timestamps and
-- arguments as the text that was chained), so `audit verify` reads back what was hashed.

CREATE TABLE audit_log (
    seq BIGINT PRIMARY KEY,
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
    duration_ms DOUBLE PRECISION NOT NULL,
    change_id TEXT,
    manifest_digest TEXT,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL
);

-- The last row of the chain. Every group commit locks this row (SELECT ... FOR UPDATE), chains
-- its batch after it and moves it, so replicas append one after another and never fork the
-- chain; rows are numbered from it (no sequence: a rolled-back batch leaves no gap).
CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq BIGINT NOT NULL,
    row_hash TEXT NOT NULL
);

INSERT INTO audit_head (id, seq, row_hash) VALUES (1, 0, repeat('0', 64));

CREATE TABLE changes (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    requester TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    n_records INTEGER NOT NULL,
    data JSONB NOT NULL
);
CREATE INDEX changes_status ON changes (status, expires_at);
CREATE INDEX changes_requester ON changes (requester, created_at);
CREATE INDEX changes_created ON changes (created_at);

CREATE TABLE approvals (
    change_id TEXT NOT NULL REFERENCES changes (id),
    reviewer TEXT NOT NULL,
    roles JSONB NOT NULL,
    note TEXT NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (change_id, reviewer)
);

CREATE TABLE applied_records (
    change_id TEXT NOT NULL REFERENCES changes (id),
    ref TEXT NOT NULL,
    ok BOOLEAN NOT NULL,
    code TEXT,
    message TEXT,
    after_image JSONB NOT NULL,
    written_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (change_id, ref)
);

CREATE TABLE used_nonces (
    nonce TEXT PRIMARY KEY,
    change_id TEXT NOT NULL,
    used_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE freeze_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    reason TEXT NOT NULL,
    frozen_by TEXT NOT NULL,
    frozen_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE bearer_tokens (
    token_hash TEXT PRIMARY KEY,
    principal TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ,
    revoked BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX bearer_tokens_principal ON bearer_tokens (principal) WHERE NOT revoked;

CREATE TABLE call_window (
    principal TEXT NOT NULL,
    second BIGINT NOT NULL,
    calls INTEGER NOT NULL,
    PRIMARY KEY (principal, second)
);
