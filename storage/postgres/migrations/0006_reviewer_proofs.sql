-- 0006 reviewer proofs (#14): the signed statement and proof stored with each approval (a
-- rejection keeps its proof in the change document), and one-time passkey enrolment invites.

ALTER TABLE approvals ADD COLUMN proof JSONB;

CREATE TABLE reviewer_invites (
    token_hash TEXT PRIMARY KEY,
    reviewer TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL,
    declare BOOLEAN NOT NULL DEFAULT FALSE,
    used_at TIMESTAMPTZ,
    credential TEXT
);
