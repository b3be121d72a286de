-- Average and 95th-percentile SNR per receiver per hour in [window_start, window_end).
-- From raw rows, not measurements_hourly: a p95 over all frequencies cannot be combined
-- exactly from per-frequency percentiles. Each row is named by the station that had its id at
-- the measurement's time (websdr_station_versions); an hour that holds a renumbering has a row
-- per station. station_key is the station's identity ('websdr N' for an id no station had).
-- The SNR shown: %(snr_source)s = 'recomputed' takes iq_metrics.snr_db where the recording was
-- computed (NULL when it holds no signal) and the stored snr_db elsewhere; 'stored' takes snr_db.
SELECT time_bucket('1 hour', m.timestamp_utc) AS hour,
       m.websdr_id,
       coalesce(s.station_key, 'websdr ' || m.websdr_id) AS station_key,
       coalesce(s.name, 'websdr ' || m.websdr_id) AS receiver,
       count(*) AS measurement_count,
       avg(shown.snr_db) AS snr_avg_db,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY shown.snr_db) AS snr_p95_db
FROM measurements AS m
LEFT JOIN iq_metrics AS i
    ON i.task_id = m.task_id AND i.websdr_id = m.websdr_id AND i.timestamp_utc = m.timestamp_utc
   AND i.timestamp_utc >= %(window_start)s AND i.timestamp_utc < %(window_end)s
   AND i.status = 'computed' AND %(snr_source)s = 'recomputed'
CROSS JOIN LATERAL (SELECT CASE WHEN i.task_id IS NOT NULL THEN i.snr_db ELSE m.snr_db END AS snr_db) AS shown
LEFT JOIN websdr_station_versions AS s ON s.websdr_id = m.websdr_id AND s.valid_during @> m.timestamp_utc
WHERE m.timestamp_utc >= %(window_start)s AND m.timestamp_utc < %(window_end)s
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3
