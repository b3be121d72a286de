-- Record the final outcome of one object that did not reach the hypertable: rejected (with the
-- reason) or a duplicate of another object in the same batch.
INSERT INTO ingest_ledger AS ledger (object_key, etag, size_bytes, last_modified, status, reason,
                                    task_id, websdr_id, timestamp_utc, processed_at)
VALUES (%(object_key)s, %(etag)s, %(size_bytes)s, %(last_modified)s, %(status)s, %(reason)s,
        %(task_id)s, %(websdr_id)s, %(timestamp_utc)s, now())
ON CONFLICT (object_key) DO UPDATE SET
    etag = EXCLUDED.etag,
    size_bytes = EXCLUDED.size_bytes,
    last_modified = EXCLUDED.last_modified,
    status = EXCLUDED.status,
    reason = EXCLUDED.reason,
    task_id = EXCLUDED.task_id,
    websdr_id = EXCLUDED.websdr_id,
    timestamp_utc = EXCLUDED.timestamp_utc,
    processed_at = EXCLUDED.processed_at
