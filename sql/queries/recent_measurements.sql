-- Per receiver in [window_start, window_end), by default the last 24 hours: what it reported,
-- when it was last heard, its latest SNR.
-- A receiver is a station (station_key): every station that had an id during the window, with
-- the id and name of its last version there and every id it had (a renumbered station has two),
-- plus any id that reported while no station had it ('websdr N'). Each measurement counts for the
-- station that had its id at the measurement's time (websdr_station_versions), so two stations
-- that had one id in the window are never merged under one name.
WITH window_rows AS (
    SELECT m.*,
           coalesce(s.station_key, 'websdr ' || m.websdr_id) AS station_key,
           s.station_key IS NULL AS unknown_id
    FROM measurements AS m
    LEFT JOIN websdr_station_versions AS s ON s.websdr_id = m.websdr_id AND s.valid_during @> m.timestamp_utc
    WHERE m.timestamp_utc >= %(window_start)s AND m.timestamp_utc < %(window_end)s
),
station_ids AS (
    SELECT station_key,
           websdr_id,
           max(lower(valid_during)) AS since,
           (array_agg(name ORDER BY lower(valid_during) DESC))[1] AS name
    FROM websdr_station_versions
    WHERE websdr_id IS NOT NULL
      AND valid_during && tstzrange(%(window_start)s, %(window_end)s, '[)')
    GROUP BY station_key, websdr_id
),
receivers AS (
    SELECT station_key,
           (array_agg(websdr_id ORDER BY since DESC))[1] AS websdr_id,
           (array_agg(name ORDER BY since DESC))[1] AS receiver,
           string_agg(websdr_id::text, ', ' ORDER BY since) AS websdr_ids
    FROM station_ids
    GROUP BY station_key
    UNION ALL
    SELECT DISTINCT station_key, websdr_id, station_key, websdr_id::text
    FROM window_rows
    WHERE unknown_id
)
SELECT r.websdr_id,
       r.station_key,
       r.receiver,
       r.websdr_ids,
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
LEFT JOIN window_rows AS w ON w.station_key = r.station_key
GROUP BY r.websdr_id, r.station_key, r.receiver, r.websdr_ids
ORDER BY r.websdr_id, r.receiver
