-- Per receiver (every station, plus any unknown id that reported) in [window_start, window_end),
-- by default the last 24 hours: what it reported, when it was last heard, its latest SNR.
-- snr_db is the SNR shown: %(snr_source)s = 'recomputed' takes iq_metrics.snr_db where the
-- recording was computed (NULL when it holds no signal) and the stored snr_db elsewhere.
WITH window_rows AS (
    SELECT m.task_id, m.websdr_id, m.timestamp_utc, m.frequency_mhz, m.frequency_offset_hz, m.power_dbm,
           CASE WHEN i.task_id IS NOT NULL THEN i.snr_db ELSE m.snr_db END AS snr_db
    FROM measurements AS m
    LEFT JOIN iq_metrics AS i
        ON i.task_id = m.task_id AND i.websdr_id = m.websdr_id AND i.timestamp_utc = m.timestamp_utc
       AND i.timestamp_utc >= %(window_start)s AND i.timestamp_utc < %(window_end)s
       AND i.status = 'computed' AND %(snr_source)s = 'recomputed'
    WHERE m.timestamp_utc >= %(window_start)s AND m.timestamp_utc < %(window_end)s
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
