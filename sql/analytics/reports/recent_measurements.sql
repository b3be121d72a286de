-- Per receiver in [window_start, window_end), by default the last 24 hours: what it reported,
-- when it was last heard, its latest SNR.
-- A receiver is a station (station_key): every station that had an id during the window, with
-- the id and name of its last version there and every id it had (a renumbered station has two),
-- plus any id that reported while no station had it ('websdr N'). Each measurement counts for the
-- station that had its id at the measurement's time (websdr_station_versions), so two stations
-- that had one id in the window are never merged under one name (report_rows, report_receivers:
-- migration 0022). snr_db is the SNR shown: %(snr_source)s = 'recomputed' takes iq_metrics.snr_db
-- where the recording was computed (NULL when it holds no signal) and the stored snr_db elsewhere.
WITH window_rows AS (
    SELECT * FROM report_rows(%(window_start)s, %(window_end)s, %(snr_source)s)
),
per_station AS (
    SELECT station_key,
           count(*) AS measurement_count,
           count(DISTINCT task_id) AS sessions,
           min(timestamp_utc) AS first_seen,
           max(timestamp_utc) AS last_seen,
           (array_agg(snr_db ORDER BY timestamp_utc DESC, task_id))[1] AS latest_snr_db,
           avg(snr_db) AS snr_avg_db,
           min(snr_db) AS snr_min_db,
           max(snr_db) AS snr_max_db,
           avg(power_dbm) AS power_avg_dbm,
           avg(frequency_offset_hz) AS offset_avg_hz,
           array_to_string(array_agg(DISTINCT frequency_mhz ORDER BY frequency_mhz), ' ') AS frequencies_mhz
    FROM window_rows
    GROUP BY station_key
)
SELECT r.*,  -- websdr_id, station_key, receiver, websdr_ids
       coalesce(p.measurement_count, 0) AS measurement_count,
       coalesce(p.sessions, 0) AS sessions,
       p.first_seen,
       p.last_seen,
       p.latest_snr_db,
       p.snr_avg_db,
       p.snr_min_db,
       p.snr_max_db,
       p.power_avg_dbm,
       p.offset_avg_hz,
       coalesce(p.frequencies_mhz, '') AS frequencies_mhz
FROM report_receivers(%(window_start)s, %(window_end)s) AS r
LEFT JOIN per_station AS p ON p.station_key = r.station_key
ORDER BY r.websdr_id, r.receiver
