-- Objects uploaded in [start, end) by status, with their bytes.
SELECT status, count(*) AS objects, coalesce(sum(size_bytes), 0) AS bytes
FROM ingest_ledger
WHERE last_modified >= %(start)s AND last_modified < %(end)s
GROUP BY status
ORDER BY status
