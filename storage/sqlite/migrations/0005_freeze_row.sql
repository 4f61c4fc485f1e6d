-- 0005 freeze row: freeze_state keeps one permanent row (frozen 0 or 1) instead of a row that
-- exists only while frozen, so an apply's claim can lock a row that is always there (what
-- PostgreSQL needs for "once freeze returns, no apply starts"). The current state is kept.

CREATE TABLE freeze_state_v5 (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    frozen INTEGER NOT NULL CHECK (frozen IN (0, 1)),
    reason TEXT NOT NULL DEFAULT '',
    frozen_by TEXT,
    frozen_at TEXT
);

INSERT INTO freeze_state_v5 (id, frozen, reason, frozen_by, frozen_at)
SELECT 1, 1, reason, frozen_by, frozen_at FROM freeze_state WHERE id = 1;

INSERT INTO freeze_state_v5 (id, frozen)
SELECT 1, 0 WHERE NOT EXISTS (SELECT 1 FROM freeze_state_v5);

DROP TABLE freeze_state;

ALTER TABLE freeze_state_v5 RENAME TO freeze_state;
