-- Active receivers with no row among the upload day [start, end)'s rows, and how many rows each
-- receiver that did report has there. The day's rows are those of partition_rows.sql, whoever
-- inserted them: measured in [start, end), or named by the day's uploads and measured on another day.
WITH late AS (
    SELECT DISTINCT task_id, websdr_id, timestamp_utc
    FROM ingest_ledger
    WHERE last_modified >= %(start)s AND last_modified < %(end)s
      AND status IN ('loaded', 'updated', 'present', 'conflict')
      AND (timestamp_utc < %(start)s OR timestamp_utc >= %(end)s)
), day_rows AS (
    SELECT m.websdr_id
    FROM measurements m
    WHERE m.timestamp_utc >= %(start)s AND m.timestamp_utc < %(end)s
    UNION ALL
    SELECT m.websdr_id
    FROM late
    JOIN measurements m USING (task_id, websdr_id, timestamp_utc)
), per_receiver AS (
    SELECT websdr_id, count(*) AS measurements FROM day_rows GROUP BY websdr_id
)
SELECT s.id, s.name, coalesce(r.measurements, 0) AS measurements
FROM websdr_stations s
LEFT JOIN per_receiver r ON r.websdr_id = s.id
WHERE s.active
ORDER BY s.id
