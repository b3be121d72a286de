-- Record a listing: new objects become 'pending'; an object whose content changed (new ETag)
-- goes back to 'pending' with its attempt count reset; a 'missing' object listed again is 'pending'
-- again; an unchanged object keeps its outcome (and who recorded it). Returns one row per change. A changed object keeps
-- the key of the row its earlier version loaded (task_id, websdr_id, timestamp_utc; not for
-- 'present' or 'conflict', whose row is another's), so loading the new version replaces that row.
INSERT INTO ingest_ledger AS ledger (object_key, etag, size_bytes, last_modified, status, listed_by)
SELECT object_key, etag, size_bytes, last_modified, 'pending', %(listed_by)s
FROM ledger_staging
ON CONFLICT (object_key) DO UPDATE SET
    etag = EXCLUDED.etag,
    size_bytes = EXCLUDED.size_bytes,
    last_modified = EXCLUDED.last_modified,
    listed_at = now(),
    listed_by = CASE WHEN ledger.etag = EXCLUDED.etag AND ledger.status <> 'missing' THEN ledger.listed_by ELSE EXCLUDED.listed_by END,
    status = CASE WHEN ledger.etag = EXCLUDED.etag AND ledger.status <> 'missing' THEN ledger.status ELSE 'pending' END,
    reason = CASE WHEN ledger.etag = EXCLUDED.etag AND ledger.status <> 'missing' THEN ledger.reason END,
    task_id = CASE WHEN ledger.etag = EXCLUDED.etag OR ledger.status NOT IN ('present', 'conflict') THEN ledger.task_id END,
    websdr_id = CASE WHEN ledger.etag = EXCLUDED.etag OR ledger.status NOT IN ('present', 'conflict') THEN ledger.websdr_id END,
    timestamp_utc = CASE WHEN ledger.etag = EXCLUDED.etag OR ledger.status NOT IN ('present', 'conflict') THEN ledger.timestamp_utc END,
    processed_at = CASE WHEN ledger.etag = EXCLUDED.etag AND ledger.status <> 'missing' THEN ledger.processed_at END,
    attempts = CASE WHEN ledger.etag = EXCLUDED.etag THEN ledger.attempts ELSE 0 END,
    last_error = CASE WHEN ledger.etag = EXCLUDED.etag THEN ledger.last_error END
WHERE ledger.etag IS DISTINCT FROM EXCLUDED.etag
   OR ledger.last_modified IS DISTINCT FROM EXCLUDED.last_modified
   OR ledger.size_bytes IS DISTINCT FROM EXCLUDED.size_bytes
   OR ledger.status = 'missing'
RETURNING (xmax = 0) AS is_new, status, object_key, etag, size_bytes, last_modified
