-- 0005 freeze row: freeze_state keeps one permanent row (frozen true or false) instead of a row
-- that exists only while frozen. Every apply's claim locks it FOR SHARE and `freeze` updates it,
-- so a freeze waits for claims in flight: once `mopsgate freeze` returns, no apply starts in
-- any replica. The current state is kept.

ALTER TABLE freeze_state ADD COLUMN frozen BOOLEAN NOT NULL DEFAULT TRUE;
ALTER TABLE freeze_state ALTER COLUMN frozen DROP DEFAULT;
ALTER TABLE freeze_state ALTER COLUMN reason SET DEFAULT '';
ALTER TABLE freeze_state ALTER COLUMN frozen_by DROP NOT NULL;
ALTER TABLE freeze_state ALTER COLUMN frozen_at DROP NOT NULL;

INSERT INTO freeze_state (id, frozen) VALUES (1, FALSE) ON CONFLICT (id) DO NOTHING;
