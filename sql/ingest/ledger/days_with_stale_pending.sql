-- Upload days with objects still pending since before %(older_than)s (their run failed, or their
-- GET did): the sensor requests one more run for each, oldest day first, at most %(max_days)s a tick.
SELECT (last_modified AT TIME ZONE 'UTC')::date AS day, count(*) AS objects, max(attempts) AS attempts
FROM ingest_ledger
WHERE status = 'pending'
  AND coalesce(last_attempt_at, listed_at) < %(older_than)s
  AND last_modified >= %(first)s AND last_modified < %(after_last)s
GROUP BY 1
ORDER BY 1
LIMIT %(max_days)s
