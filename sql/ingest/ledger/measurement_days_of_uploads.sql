-- The UTC measurement days of the rows that objects uploaded in [start, end) carry: the days whose
-- hourly aggregates those uploads can have changed (a late upload lands on an older day), and the
-- days of rows a new version of an object replaced with a row at another time (deleted there).
SELECT DISTINCT (day_time AT TIME ZONE 'UTC')::date AS day
FROM ingest_ledger,
     LATERAL (VALUES (timestamp_utc), (replaced_timestamp_utc)) AS touched(day_time)
WHERE last_modified >= %(start)s AND last_modified < %(end)s
  AND status IN ('loaded', 'updated', 'present', 'conflict')
  AND day_time IS NOT NULL
ORDER BY day
