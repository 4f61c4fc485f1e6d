-- 0002 token epoch: a counter every token creation and revocation bumps in its own
-- transaction. Each replica reads it on every request and empties its cache of token lookups
-- when it moved, so a revocation is refused by every replica on its next request.

CREATE TABLE token_epoch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n BIGINT NOT NULL
);

INSERT INTO token_epoch (id, n) VALUES (1, 0);
