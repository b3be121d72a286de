-- Rejected objects uploaded in [start, end), one row per reason.
SELECT reason, count(*) AS objects
FROM ingest_ledger
WHERE status = 'rejected' AND last_modified >= %(start)s AND last_modified < %(end)s
GROUP BY reason
ORDER BY objects DESC, reason
