-- Record an object that cannot become a measurement, with the reason. If an earlier version of the
-- object loaded a row (the ledger remembers it; a 'present' or 'conflict' row is another's), that row is kept:
-- the latest *valid* version wins, and the reason says so.
INSERT INTO ingest_ledger AS ledger (object_key, etag, size_bytes, last_modified, status, reason, processed_at)
VALUES (%(object_key)s, %(etag)s, %(size_bytes)s, %(last_modified)s, 'rejected', %(reason)s, now())
ON CONFLICT (object_key) DO UPDATE SET
    etag = EXCLUDED.etag,
    size_bytes = EXCLUDED.size_bytes,
    last_modified = EXCLUDED.last_modified,
    status = 'rejected',
    reason = CASE WHEN ledger.task_id IS NOT NULL AND ledger.status NOT IN ('present', 'conflict')
                  THEN EXCLUDED.reason || ' (the row of an earlier version of this object is kept)'
                  ELSE EXCLUDED.reason END,
    task_id = CASE WHEN ledger.status NOT IN ('present', 'conflict') THEN ledger.task_id END,
    websdr_id = CASE WHEN ledger.status NOT IN ('present', 'conflict') THEN ledger.websdr_id END,
    timestamp_utc = CASE WHEN ledger.status NOT IN ('present', 'conflict') THEN ledger.timestamp_utc END,
    processed_at = EXCLUDED.processed_at,
    last_error = NULL
