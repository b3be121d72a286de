-- Objects uploaded in [start, end) whose key found a stored row with other values ('conflict'):
-- how many, and the first %(limit)s with their reasons.
SELECT count(*) OVER () AS conflicts, object_key, reason
FROM ingest_ledger
WHERE status = 'conflict' AND last_modified >= %(start)s AND last_modified < %(end)s
ORDER BY object_key
LIMIT %(limit)s
