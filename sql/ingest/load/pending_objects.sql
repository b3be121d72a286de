-- Objects uploaded in [start, end) that still wait to be processed.
SELECT object_key, etag, size_bytes, last_modified
FROM ingest_ledger
WHERE status = 'pending' AND last_modified >= %(start)s AND last_modified < %(end)s
ORDER BY object_key
