-- 0007 audit evidence (#10): the use case each row ran under and the record references a call
-- returned or targeted (hashed with the row, stored as the text that was hashed), an index of
-- those references, and the indexes `mopsgate audit query` and the risk report filter on.

ALTER TABLE audit_log ADD COLUMN use_case TEXT;

ALTER TABLE audit_log ADD COLUMN records TEXT;

-- One row per (record reference, audit row): "which calls saw or touched this person".
CREATE TABLE audit_records (
    ref TEXT NOT NULL,
    seq BIGINT NOT NULL,
    PRIMARY KEY (ref, seq)
);

CREATE INDEX audit_log_change ON audit_log (change_id) WHERE change_id IS NOT NULL;

CREATE INDEX audit_log_ts ON audit_log (ts);
