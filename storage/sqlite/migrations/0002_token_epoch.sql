-- 0002 token epoch: a counter every token creation and revocation bumps in its own
-- transaction. Each process keeps a cache of token lookups and empties it whenever the epoch
-- moved, so a revocation is refused by every running process on its next request.

CREATE TABLE token_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);

INSERT INTO token_epoch (id, n) VALUES (1, 0);
