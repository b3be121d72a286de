-- The UTC measurement days of the rows that objects uploaded in [start, end) carry: the days whose
-- hourly aggregates those uploads can have changed (a late upload lands on an older day).
SELECT DISTINCT (timestamp_utc AT TIME ZONE 'UTC')::date AS day
FROM ingest_ledger
WHERE last_modified >= %(start)s AND last_modified < %(end)s
  AND status IN ('loaded', 'duplicate')
  AND timestamp_utc IS NOT NULL
ORDER BY day
