-- Average and 95th-percentile SNR per receiver per hour in [window_start, window_end).
-- From raw rows, not measurements_hourly: a p95 over all frequencies cannot be combined
-- exactly from per-frequency percentiles. Each row is named by the station that had its id at
-- the measurement's time (websdr_station_versions); an hour that holds a renumbering has a row
-- per station. station_key is the station's identity ('websdr N' for an id no station had):
-- report_rows, migration 0022.
-- The SNR shown: %(snr_source)s = 'recomputed' takes iq_metrics.snr_db where the recording was
-- computed (NULL when it holds no signal) and the stored snr_db elsewhere; 'stored' takes snr_db.
SELECT time_bucket('1 hour', r.timestamp_utc) AS hour,
       r.websdr_id,
       r.station_key,
       r.receiver,
       count(*) AS measurement_count,
       avg(r.snr_db) AS snr_avg_db,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY r.snr_db) AS snr_p95_db
FROM report_rows(%(window_start)s, %(window_end)s, %(snr_source)s) AS r
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3
