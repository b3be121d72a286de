-- One row per metadata object seen in the bucket: how a user finds out what happened to a file.
-- 'pending' = listed but not yet processed; the others are final.
CREATE TABLE ingest_ledger (
    object_key TEXT PRIMARY KEY,
    etag TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    last_modified TIMESTAMPTZ NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'loaded', 'duplicate', 'rejected')),
    reason TEXT,
    task_id TEXT,
    websdr_id INTEGER,
    timestamp_utc TIMESTAMPTZ,
    listed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    processed_at TIMESTAMPTZ,
    CHECK ((status = 'rejected') = (reason IS NOT NULL))
);

-- Partitions select objects by upload day; checks look for what is still pending.
CREATE INDEX idx_ingest_ledger_last_modified ON ingest_ledger (last_modified);
CREATE INDEX idx_ingest_ledger_timestamp ON ingest_ledger (timestamp_utc);
CREATE INDEX idx_ingest_ledger_pending ON ingest_ledger (last_modified) WHERE status = 'pending';
