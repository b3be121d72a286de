-- Per receiver and frequency: the hourly offset series (measurements_hourly) and a least-squares
-- drift rate fitted over the raw offsets in [window_start, window_end) against time in hours.
WITH fits AS (
    SELECT websdr_id,
           frequency_mhz,
           count(frequency_offset_hz) AS fit_samples,
           regr_slope(frequency_offset_hz, extract(epoch FROM timestamp_utc)::float8 / 3600) AS drift_hz_per_hour,
           regr_r2(frequency_offset_hz, extract(epoch FROM timestamp_utc)::float8 / 3600) AS drift_r2
    FROM measurements
    WHERE timestamp_utc >= %(window_start)s AND timestamp_utc < %(window_end)s
    GROUP BY 1, 2
)
SELECT h.bucket AS hour,
       h.websdr_id,
       coalesce(s.name, 'websdr ' || h.websdr_id) AS receiver,
       h.frequency_mhz,
       h.measurement_count,
       h.offset_avg_hz,
       h.offset_min_hz,
       h.offset_max_hz,
       f.drift_hz_per_hour,
       f.drift_r2,
       f.fit_samples
FROM measurements_hourly AS h
JOIN fits AS f USING (websdr_id, frequency_mhz)
LEFT JOIN websdr_stations AS s ON s.id = h.websdr_id
WHERE h.bucket >= %(window_start)s AND h.bucket < %(window_end)s
ORDER BY h.websdr_id, h.frequency_mhz, h.bucket
