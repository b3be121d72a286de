-- Event-driven discovery ([scale]): object notifications feed the ledger, so finding new objects
-- costs O(new objects) instead of a pass over the bucket.
--
-- s3_events: MinIO's PostgreSQL notification target in the `access` format appends one row per
-- event (INSERT INTO <table> (event_time, event_data)); this is that table, created here so it
-- lives in our schema with our grants, plus an id so the consumer takes rows in order and deletes
-- exactly those it recorded. MinIO only inserts: `SELECT 1 FROM s3_events` finds it, so MinIO
-- never creates its own. Give MinIO's database role INSERT on it (docs/operating.md).
CREATE TABLE s3_events (
    id BIGSERIAL PRIMARY KEY,
    event_time TIMESTAMPTZ NOT NULL,
    event_data JSONB
);

-- Notifications that named nothing the ledger can record (not JSON, another bucket, a key
-- outside sessions/, ...), kept with the reason: every notification is accounted for.
CREATE TABLE s3_event_drops (
    id BIGSERIAL PRIMARY KEY,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    source TEXT NOT NULL,
    reason TEXT NOT NULL,
    excerpt TEXT
);
CREATE INDEX idx_s3_event_drops_received_at ON s3_event_drops (received_at);

-- Who recorded an entry's current version: 'listing' (the reconciliation pass, or a run re-listing
-- an object that changed under it) or 'events' (the notification consumer). The sensor requests
-- runs for the days of the entries the consumer recorded since its last tick; the partial index
-- makes that O(new entries), not a scan of the whole ledger.
ALTER TABLE ingest_ledger
    ADD COLUMN listed_by TEXT NOT NULL DEFAULT 'listing' CHECK (listed_by IN ('listing', 'events'));
CREATE INDEX idx_ingest_ledger_listed_by_events ON ingest_ledger (listed_at) WHERE listed_by = 'events';
