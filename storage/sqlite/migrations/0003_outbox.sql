-- 0003 outbox: messages about state changes, written in the same transaction as the change,
-- sent later by a sender that leases them (#14).

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE,
    payload TEXT NOT NULL,
    enqueued_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TEXT,
    sent_at TEXT,
    last_error TEXT
);

CREATE INDEX outbox_due ON outbox (due_at) WHERE sent_at IS NULL;
