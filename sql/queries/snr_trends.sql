-- Average and 95th-percentile SNR per receiver per hour in [window_start, window_end).
-- From raw rows, not measurements_hourly: a p95 over all frequencies cannot be combined
-- exactly from per-frequency percentiles. Each row is named by the station that had its id at
-- the measurement's time (websdr_station_versions); an hour that holds a renumbering has a row
-- per station. station_key is the station's identity ('websdr N' for an id no station had).
SELECT time_bucket('1 hour', m.timestamp_utc) AS hour,
       m.websdr_id,
       coalesce(s.station_key, 'websdr ' || m.websdr_id) AS station_key,
       coalesce(s.name, 'websdr ' || m.websdr_id) AS receiver,
       count(*) AS measurement_count,
       avg(m.snr_db) AS snr_avg_db,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY m.snr_db) AS snr_p95_db
FROM measurements AS m
LEFT JOIN websdr_station_versions AS s ON s.websdr_id = m.websdr_id AND s.valid_during @> m.timestamp_utc
WHERE m.timestamp_utc >= %(window_start)s AND m.timestamp_utc < %(window_end)s
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3
