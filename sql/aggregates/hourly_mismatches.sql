-- Groups of measurements_hourly in [start, end) that differ from a from-scratch recomputation
-- over measurements, both ways (missing, extra or different rows); 0 means the table is exact.
-- Written independently of insert_hourly_day.sql on purpose: it is the check, not a copy.
WITH recomputed AS (
    SELECT time_bucket('1 hour', timestamp_utc) AS bucket, websdr_id, frequency_mhz,
           count(*)::int AS measurement_count,
           avg(snr_db ORDER BY timestamp_utc, task_id) AS snr_avg_db,
           min(snr_db) AS snr_min_db,
           max(snr_db) AS snr_max_db,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY snr_db) AS snr_p50_db,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY snr_db) AS snr_p95_db,
           avg(power_dbm ORDER BY timestamp_utc, task_id) AS power_avg_dbm,
           avg(frequency_offset_hz ORDER BY timestamp_utc, task_id) AS offset_avg_hz,
           min(frequency_offset_hz) AS offset_min_hz,
           max(frequency_offset_hz) AS offset_max_hz,
           stddev_samp(frequency_offset_hz ORDER BY timestamp_utc, task_id) AS offset_stddev_hz
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
SELECT (SELECT count(*) FROM (TABLE recomputed EXCEPT TABLE stored) AS missing_or_different)
     + (SELECT count(*) FROM (TABLE stored EXCEPT TABLE recomputed) AS extra_or_different)
