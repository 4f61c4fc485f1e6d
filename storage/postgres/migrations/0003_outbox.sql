-- 0003 outbox: messages about state changes, written in the same transaction as the change,
-- sent later by a sender that leases them (#14); senders in several replicas claim with
-- FOR UPDATE SKIP LOCKED.

CREATE TABLE outbox (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic TEXT NOT NULL,
    key TEXT NOT NULL UNIQUE,
    payload JSONB NOT NULL,
    enqueued_at TIMESTAMPTZ NOT NULL,
    due_at TIMESTAMPTZ NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    locked_until TIMESTAMPTZ,
    sent_at TIMESTAMPTZ,
    last_error TEXT
);

CREATE INDEX outbox_due ON outbox (due_at) WHERE sent_at IS NULL;
