-- Per receiver (every station, plus any unknown id that reported) in [window_start, window_end):
-- measurements, SNR avg/min/max, average offset, and the share of the window's sessions
-- (distinct task_id) it took part in.
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
),
all_sessions AS (
    SELECT count(DISTINCT task_id) AS sessions FROM window_rows
)
SELECT r.websdr_id,
       r.receiver,
       count(w.task_id) AS measurement_count,
       avg(w.snr_db) AS snr_avg_db,
       min(w.snr_db) AS snr_min_db,
       max(w.snr_db) AS snr_max_db,
       avg(w.frequency_offset_hz) AS offset_avg_hz,
       count(DISTINCT w.task_id) AS sessions,
       a.sessions AS sessions_in_window,
       100.0::float8 * count(DISTINCT w.task_id) / nullif(a.sessions, 0) AS session_share_pct
FROM receivers AS r
CROSS JOIN all_sessions AS a
LEFT JOIN window_rows AS w ON w.websdr_id = r.websdr_id
GROUP BY r.websdr_id, r.receiver, a.sessions
ORDER BY r.websdr_id
