-- Rows among the upload day [start, end)'s rows (those of partition_rows.sql, whoever inserted
-- them) whose websdr_id no station had at the row's time (e.g. Heimdall added a receiver and the
-- list was not synced yet), per id.
WITH late AS (
    SELECT DISTINCT task_id, websdr_id, timestamp_utc
    FROM ingest_ledger
    WHERE last_modified >= %(start)s AND last_modified < %(end)s
      AND status IN ('loaded', 'updated', 'present', 'conflict')
      AND (timestamp_utc < %(start)s OR timestamp_utc >= %(end)s)
), day_rows AS (
    SELECT m.websdr_id, m.timestamp_utc
    FROM measurements m
    WHERE m.timestamp_utc >= %(start)s AND m.timestamp_utc < %(end)s
    UNION ALL
    SELECT m.websdr_id, m.timestamp_utc
    FROM late
    JOIN measurements m USING (task_id, websdr_id, timestamp_utc)
)
SELECT r.websdr_id, count(*) AS measurements
FROM day_rows AS r
WHERE NOT EXISTS (
    SELECT FROM websdr_station_versions AS v
    WHERE v.websdr_id = r.websdr_id AND v.valid_during @> r.timestamp_utc
)
GROUP BY r.websdr_id
ORDER BY r.websdr_id
