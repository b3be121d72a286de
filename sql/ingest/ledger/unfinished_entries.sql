-- Objects uploaded in [start, end) not finished yet (pending) or given up (failed), for examples.
SELECT object_key, status FROM ingest_ledger
WHERE last_modified >= %(start)s AND last_modified < %(end)s AND status IN ('pending', 'failed')
ORDER BY status DESC, object_key
LIMIT %(limit)s
