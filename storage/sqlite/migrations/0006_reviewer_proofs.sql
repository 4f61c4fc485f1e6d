-- 0006 reviewer proofs (#14): the signed statement and proof stored with each approval (a
-- rejection keeps its proof in the change document), and one-time passkey enrolment invites.

ALTER TABLE approvals ADD COLUMN proof TEXT;

CREATE TABLE reviewer_invites (
    token_hash TEXT PRIMARY KEY,
    reviewer TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    declare INTEGER NOT NULL DEFAULT 0,
    used_at TEXT,
    credential TEXT
);
