-- Hourly groups in [start, end) where measurements_hourly differs from a from-scratch recomputation
-- over measurements: missing, extra, or any column different. Counts, minima, maxima and
-- percentiles must be equal; averages and standard deviations, floats summed in scan order,
-- within 1e-9 relative (summing the same values in another order changes the last bits only).
-- Written independently of insert_hourly_day.sql on purpose: it is the check, not a copy.
WITH recomputed AS (
    SELECT time_bucket('1 hour', timestamp_utc) AS bucket, websdr_id, frequency_mhz,
           count(*)::int AS measurement_count,
           avg(snr_db) AS snr_avg_db,
           min(snr_db) AS snr_min_db,
           max(snr_db) AS snr_max_db,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY snr_db) AS snr_p50_db,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY snr_db) AS snr_p95_db,
           avg(power_dbm) AS power_avg_dbm,
           avg(frequency_offset_hz) AS offset_avg_hz,
           min(frequency_offset_hz) AS offset_min_hz,
           max(frequency_offset_hz) AS offset_max_hz,
           stddev_samp(frequency_offset_hz) AS offset_stddev_hz
    FROM measurements
    WHERE timestamp_utc >= %(start)s AND timestamp_utc < %(end)s
    GROUP BY 1, 2, 3
),
stored AS (
    SELECT bucket, websdr_id, frequency_mhz, measurement_count,
           snr_avg_db, snr_min_db, snr_max_db, snr_p50_db, snr_p95_db,
           power_avg_dbm, offset_avg_hz, offset_min_hz, offset_max_hz, offset_stddev_hz
    FROM measurements_hourly
    WHERE bucket >= %(start)s AND bucket < %(end)s
)
SELECT bucket, websdr_id, frequency_mhz,
       r.measurement_count AS expected_count,
       s.measurement_count AS actual_count
FROM recomputed r
FULL JOIN stored s USING (bucket, websdr_id, frequency_mhz)
WHERE ROW(r.measurement_count, r.snr_min_db, r.snr_max_db, r.snr_p50_db, r.snr_p95_db, r.offset_min_hz, r.offset_max_hz)
      IS DISTINCT FROM
      ROW(s.measurement_count, s.snr_min_db, s.snr_max_db, s.snr_p50_db, s.snr_p95_db, s.offset_min_hz, s.offset_max_hz)
   OR NOT (float_close(r.snr_avg_db, s.snr_avg_db)
           AND float_close(r.power_avg_dbm, s.power_avg_dbm)
           AND float_close(r.offset_avg_hz, s.offset_avg_hz)
           AND float_close(r.offset_stddev_hz, s.offset_stddev_hz))
ORDER BY 1, 2, 3
