-- Average and 95th-percentile SNR per receiver per hour in [window_start, window_end).
-- From raw rows, not measurements_hourly: a p95 over all frequencies cannot be combined
-- exactly from per-frequency percentiles.
SELECT time_bucket('1 hour', m.timestamp_utc) AS hour,
       m.websdr_id,
       coalesce(s.name, 'websdr ' || m.websdr_id) AS receiver,
       count(*) AS measurement_count,
       avg(m.snr_db) AS snr_avg_db,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY m.snr_db) AS snr_p95_db
FROM measurements AS m
LEFT JOIN websdr_stations AS s ON s.id = m.websdr_id
WHERE m.timestamp_utc >= %(window_start)s AND m.timestamp_utc < %(window_end)s
GROUP BY 1, 2, 3
ORDER BY 1, 2
