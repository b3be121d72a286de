-- Per receiver in [window_start, window_end): hours with at least one measurement out of the
-- window's hours (uptime), sessions heard, measurements per band (2 m = 144-146 MHz,
-- 70 cm = 430-440 MHz, other), and the window's sessions that every active receiver reported.
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
complete_sessions AS (
    SELECT count(*) AS sessions FROM (
        SELECT w.task_id
        FROM window_rows AS w
        JOIN websdr_stations AS s ON s.id = w.websdr_id AND s.active
        GROUP BY w.task_id
        HAVING count(DISTINCT w.websdr_id) = (SELECT count(*) FROM websdr_stations WHERE active)
    ) AS complete
),
totals AS (
    SELECT extract(epoch FROM %(window_end)s::timestamptz - %(window_start)s::timestamptz)::float8 / 3600
               AS hours_in_window,
           (SELECT count(DISTINCT task_id) FROM window_rows) AS sessions_in_window,
           (SELECT sessions FROM complete_sessions) AS sessions_all_reported
)
SELECT r.websdr_id,
       r.receiver,
       count(DISTINCT time_bucket('1 hour', w.timestamp_utc)) AS hours_with_data,
       t.hours_in_window,
       100.0::float8 * count(DISTINCT time_bucket('1 hour', w.timestamp_utc)) / t.hours_in_window AS uptime_pct,
       count(DISTINCT w.task_id) AS sessions,
       t.sessions_in_window,
       t.sessions_all_reported,
       count(*) FILTER (WHERE w.frequency_mhz BETWEEN 144 AND 146) AS count_2m,
       count(*) FILTER (WHERE w.frequency_mhz BETWEEN 430 AND 440) AS count_70cm,
       count(*) FILTER (WHERE NOT (w.frequency_mhz BETWEEN 144 AND 146 OR w.frequency_mhz BETWEEN 430 AND 440))
           AS count_other
FROM receivers AS r
CROSS JOIN totals AS t
LEFT JOIN window_rows AS w ON w.websdr_id = r.websdr_id
GROUP BY r.websdr_id, r.receiver, t.hours_in_window, t.sessions_in_window, t.sessions_all_reported
ORDER BY r.websdr_id
