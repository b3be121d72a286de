-- Hourly groups of [start, end) where measurements_hourly differs from a recomputation over
-- measurements (missing, extra, or any column off by more than a rounding error).
WITH expected AS (
    SELECT time_bucket('1 hour', timestamp_utc) AS bucket, websdr_id, frequency_mhz,
           count(*)::int AS measurement_count,
           avg(snr_db) AS snr_avg_db, min(snr_db) AS snr_min_db, max(snr_db) AS snr_max_db,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY snr_db) AS snr_p50_db,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY snr_db) AS snr_p95_db,
           avg(power_dbm) AS power_avg_dbm,
           avg(frequency_offset_hz) AS offset_avg_hz, min(frequency_offset_hz) AS offset_min_hz,
           max(frequency_offset_hz) AS offset_max_hz, stddev_samp(frequency_offset_hz) AS offset_stddev_hz
    FROM measurements
    WHERE timestamp_utc >= %(start)s AND timestamp_utc < %(end)s
    GROUP BY 1, 2, 3
), actual AS (
    SELECT * FROM measurements_hourly WHERE bucket >= %(start)s AND bucket < %(end)s
)
SELECT coalesce(e.bucket, a.bucket) AS bucket,
       coalesce(e.websdr_id, a.websdr_id) AS websdr_id,
       coalesce(e.frequency_mhz, a.frequency_mhz) AS frequency_mhz,
       e.measurement_count AS expected_count,
       a.measurement_count AS actual_count
FROM expected e
FULL JOIN actual a USING (bucket, websdr_id, frequency_mhz)
WHERE e.bucket IS NULL OR a.bucket IS NULL
   OR e.measurement_count <> a.measurement_count
   OR NOT (abs(coalesce(e.snr_avg_db - a.snr_avg_db, 0)) <= 1e-9
       AND abs(coalesce(e.snr_min_db - a.snr_min_db, 0)) <= 1e-9
       AND abs(coalesce(e.snr_max_db - a.snr_max_db, 0)) <= 1e-9
       AND abs(coalesce(e.snr_p50_db - a.snr_p50_db, 0)) <= 1e-9
       AND abs(coalesce(e.snr_p95_db - a.snr_p95_db, 0)) <= 1e-9
       AND abs(coalesce(e.power_avg_dbm - a.power_avg_dbm, 0)) <= 1e-9
       AND abs(coalesce(e.offset_avg_hz - a.offset_avg_hz, 0)) <= 1e-9
       AND abs(coalesce(e.offset_min_hz - a.offset_min_hz, 0)) <= 1e-9
       AND abs(coalesce(e.offset_max_hz - a.offset_max_hz, 0)) <= 1e-9
       AND abs(coalesce(e.offset_stddev_hz - a.offset_stddev_hz, 0)) <= 1e-9)
   OR (e.snr_avg_db IS NULL) <> (a.snr_avg_db IS NULL)
   OR (e.offset_stddev_hz IS NULL) <> (a.offset_stddev_hz IS NULL)
ORDER BY 1, 2, 3
