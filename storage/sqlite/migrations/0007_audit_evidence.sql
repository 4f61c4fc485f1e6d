-- 0007 audit evidence (#10): the use case each row ran under and the record references a call
-- returned or targeted (hashed with the row; rows from before keep their hash, see
-- governance/audit_chain.EXTENSION_COLUMNS), an index of those references, and the indexes
-- `mopsgate audit query` and the risk report filter on.

ALTER TABLE audit_log ADD COLUMN use_case TEXT;

ALTER TABLE audit_log ADD COLUMN records TEXT;

-- One row per (record reference, audit row): "which calls saw or touched this person".
CREATE TABLE audit_records (
    ref TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (ref, seq)
) WITHOUT ROWID;

CREATE INDEX audit_log_change ON audit_log (change_id) WHERE change_id IS NOT NULL;

CREATE INDEX audit_log_ts ON audit_log (ts);
