-- The receivers expected on the upload day [start, end): every station that was active (had an id)
-- at any moment of [start, end), so on a day that holds a change both the station deactivated and
-- the one added are expected. Each with its rows among the day's rows (partition_rows.sql's, whoever
-- inserted them: measured in [start, end), or named by the day's uploads and measured on another
-- day), each row counted for the station its id named at the row's time (websdr_station_versions),
-- and the id (or ids, when renumbered that day) it had: the id shown is its last one of the day.
-- partition_rows.sql and unknown_receiver_ids.sql take the same day's rows: change them together.
WITH station_ids AS (
    SELECT station_key,
           websdr_id,
           max(lower(valid_during)) AS since,
           (array_agg(name ORDER BY lower(valid_during) DESC))[1] AS name
    FROM websdr_station_versions
    WHERE websdr_id IS NOT NULL AND valid_during && tstzrange(%(start)s, %(end)s, '[)')
    GROUP BY station_key, websdr_id
), expected AS (
    SELECT station_key,
           (array_agg(websdr_id ORDER BY since DESC))[1] AS websdr_id,
           (array_agg(name ORDER BY since DESC))[1] AS name,
           string_agg(websdr_id::text, ', ' ORDER BY since) AS websdr_ids
    FROM station_ids
    GROUP BY station_key
), late AS (
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
), heard AS (
    SELECT v.station_key, count(*) AS measurements
    FROM day_rows AS r
    JOIN websdr_station_versions AS v
      ON v.websdr_id = r.websdr_id AND v.valid_during @> r.timestamp_utc
    GROUP BY v.station_key
)
SELECT e.websdr_id, e.name, coalesce(h.measurements, 0) AS measurements, e.station_key, e.websdr_ids
FROM expected AS e
LEFT JOIN heard AS h USING (station_key)
ORDER BY e.websdr_id, e.name
