-- What the ledger knows of the given object keys: their ETag and status (unknown keys: no row).
SELECT l.object_key, l.etag, l.status
FROM unnest(%(keys)s::text[]) AS candidate(object_key)
JOIN ingest_ledger l USING (object_key)
