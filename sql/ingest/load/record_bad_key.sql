-- A listed object whose key the ledger cannot store as it is (NUL byte, not valid UTF-8): recorded
-- at once, under its escaped key, as 'rejected' bad_key; it is never fetched. Returns is_new when
-- the ledger did not have it; an unchanged object is left as it is.
INSERT INTO ingest_ledger AS ledger (object_key, etag, size_bytes, last_modified, status, reason, processed_at)
VALUES (%(object_key)s, %(etag)s, %(size_bytes)s, %(last_modified)s, 'rejected', %(reason)s, now())
ON CONFLICT (object_key) DO UPDATE SET
    etag = EXCLUDED.etag,
    size_bytes = EXCLUDED.size_bytes,
    last_modified = EXCLUDED.last_modified,
    listed_at = now(),
    status = 'rejected',
    reason = EXCLUDED.reason,
    processed_at = EXCLUDED.processed_at
WHERE ledger.etag IS DISTINCT FROM EXCLUDED.etag
   OR ledger.last_modified IS DISTINCT FROM EXCLUDED.last_modified
   OR ledger.size_bytes IS DISTINCT FROM EXCLUDED.size_bytes
   OR ledger.status IS DISTINCT FROM 'rejected'
RETURNING (xmax = 0) AS is_new
