-- 0004 manifest history: every manifest version that came into force or was refused, by
-- digest, with its text kept once (#10).

CREATE TABLE manifest_texts (
    digest TEXT PRIMARY KEY,
    text TEXT NOT NULL
);

CREATE TABLE manifest_loads (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    digest TEXT NOT NULL REFERENCES manifest_texts (digest),
    at TIMESTAMPTZ NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('in_force', 'refused')),
    loaded_by TEXT,
    git_commit TEXT,
    git_author TEXT,
    reason TEXT
);

CREATE INDEX manifest_loads_at ON manifest_loads (at);
