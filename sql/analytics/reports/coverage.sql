-- Per receiver in [window_start, window_end): hours with at least one measurement out of the
-- window's hours (uptime), sessions heard, measurements per band (2 m = 144-146 MHz,
-- 70 cm = 430-440 MHz, other), and the window's sessions that every receiver active at the
-- session's start reported.
-- A receiver is a station (station_key): every station that had an id during the window, with
-- the id and name of its last version there and every id it had (a renumbered station has two),
-- plus any id that reported while no station had it ('websdr N'). Each measurement counts for the
-- station that had its id at the measurement's time (websdr_station_versions), so two stations
-- that had one id in the window are never merged under one name (report_rows, report_receivers:
-- migration 0022).
WITH window_rows AS (
    SELECT * FROM report_rows(%(window_start)s, %(window_end)s, 'stored')
),
complete_sessions AS (
    SELECT count(*) AS sessions FROM (
        SELECT task_id,
               min(timestamp_utc) AS started,
               count(DISTINCT station_key) FILTER (WHERE NOT unknown_id) AS stations_heard
        FROM window_rows
        GROUP BY task_id
    ) AS session
    WHERE session.stations_heard = (
        SELECT count(*) FROM websdr_station_versions AS v
        WHERE v.websdr_id IS NOT NULL AND v.valid_during @> session.started
    )
),
totals AS (
    SELECT extract(epoch FROM %(window_end)s::timestamptz - %(window_start)s::timestamptz)::float8 / 3600
               AS hours_in_window,
           (SELECT count(DISTINCT task_id) FROM window_rows) AS sessions_in_window,
           (SELECT sessions FROM complete_sessions) AS sessions_all_reported
),
per_station AS (
    SELECT station_key,
           count(DISTINCT time_bucket('1 hour', timestamp_utc)) AS hours_with_data,
           count(DISTINCT task_id) AS sessions,
           count(*) FILTER (WHERE frequency_mhz BETWEEN 144 AND 146) AS count_2m,
           count(*) FILTER (WHERE frequency_mhz BETWEEN 430 AND 440) AS count_70cm,
           count(*) FILTER (WHERE NOT (frequency_mhz BETWEEN 144 AND 146 OR frequency_mhz BETWEEN 430 AND 440))
               AS count_other
    FROM window_rows
    GROUP BY station_key
)
SELECT r.*,  -- websdr_id, station_key, receiver, websdr_ids
       coalesce(p.hours_with_data, 0) AS hours_with_data,
       t.hours_in_window,
       100.0::float8 * coalesce(p.hours_with_data, 0) / t.hours_in_window AS uptime_pct,
       coalesce(p.sessions, 0) AS sessions,
       t.sessions_in_window,
       t.sessions_all_reported,
       coalesce(p.count_2m, 0) AS count_2m,
       coalesce(p.count_70cm, 0) AS count_70cm,
       coalesce(p.count_other, 0) AS count_other
FROM report_receivers(%(window_start)s, %(window_end)s) AS r
CROSS JOIN totals AS t
LEFT JOIN per_station AS p ON p.station_key = r.station_key
ORDER BY r.websdr_id, r.receiver
