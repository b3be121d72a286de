-- Per receiver (every station, plus any unknown id that reported) in [window_start, window_end):
-- measurements, SNR avg/min/max, average offset, and the share of the window's sessions
-- (distinct task_id) it took part in.
WITH window_rows AS (
    SELECT * FROM measurements
    WHERE timestamp_utc >= %(window_start)s AND timestamp_utc < %(window_end)s
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
