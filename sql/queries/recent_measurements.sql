-- Per receiver (every station, plus any unknown id that reported) in [window_start, window_end),
-- by default the last 24 hours: what it reported, when it was last heard, its latest SNR.
WITH window_rows AS (
    SELECT * FROM measurements
    WHERE timestamp_utc >= %(window_start)s AND timestamp_utc < %(window_end)s
),
receivers AS (
    SELECT id AS websdr_id, name AS receiver FROM websdr_stations
    UNION
    SELECT DISTINCT websdr_id, 'websdr ' || websdr_id FROM window_rows
    WHERE websdr_id NOT IN (SELECT id FROM websdr_stations)
)
SELECT r.websdr_id,
       r.receiver,
       count(w.task_id) AS measurement_count,
       count(DISTINCT w.task_id) AS sessions,
       min(w.timestamp_utc) AS first_seen,
       max(w.timestamp_utc) AS last_seen,
       (array_agg(w.snr_db ORDER BY w.timestamp_utc DESC, w.task_id))[1] AS latest_snr_db,
       avg(w.snr_db) AS snr_avg_db,
       min(w.snr_db) AS snr_min_db,
       max(w.snr_db) AS snr_max_db,
       avg(w.power_dbm) AS power_avg_dbm,
       avg(w.frequency_offset_hz) AS offset_avg_hz,
       array_to_string(array_agg(DISTINCT w.frequency_mhz ORDER BY w.frequency_mhz), ' ') AS frequencies_mhz
FROM receivers AS r
LEFT JOIN window_rows AS w ON w.websdr_id = r.websdr_id
GROUP BY r.websdr_id, r.receiver
ORDER BY r.websdr_id
