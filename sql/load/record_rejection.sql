-- Record an object that cannot become a measurement, with the reason.
INSERT INTO ingest_ledger AS ledger (object_key, etag, size_bytes, last_modified, status, reason, processed_at)
VALUES (%(object_key)s, %(etag)s, %(size_bytes)s, %(last_modified)s, 'rejected', %(reason)s, now())
ON CONFLICT (object_key) DO UPDATE SET
    etag = EXCLUDED.etag,
    size_bytes = EXCLUDED.size_bytes,
    last_modified = EXCLUDED.last_modified,
    status = 'rejected',
    reason = EXCLUDED.reason,
    task_id = NULL,
    websdr_id = NULL,
    timestamp_utc = NULL,
    processed_at = EXCLUDED.processed_at,
    last_error = NULL
