-- One UTC day of measurements_hourly recomputed from measurements. The caller deletes the day
-- first (delete_hourly_day.sql) in the same transaction: readers see the old day or the new one.
-- avg/stddev sum floats in scan order, so another plan may differ in the last bits: the check
-- (hourly_mismatches.sql) compares those within 1e-9 relative. Forcing an order inside the
-- aggregates made the refresh 1.6x slower for that last bit.
INSERT INTO measurements_hourly (
    bucket, websdr_id, frequency_mhz, measurement_count,
    snr_avg_db, snr_min_db, snr_max_db, snr_p50_db, snr_p95_db,
    power_avg_dbm, offset_avg_hz, offset_min_hz, offset_max_hz, offset_stddev_hz
)
SELECT time_bucket('1 hour', timestamp_utc) AS bucket,
       websdr_id,
       frequency_mhz,
       count(*),
       avg(snr_db),
       min(snr_db),
       max(snr_db),
       percentile_cont(0.5) WITHIN GROUP (ORDER BY snr_db),
       percentile_cont(0.95) WITHIN GROUP (ORDER BY snr_db),
       avg(power_dbm),
       avg(frequency_offset_hz),
       min(frequency_offset_hz),
       max(frequency_offset_hz),
       stddev_samp(frequency_offset_hz)
FROM measurements
WHERE timestamp_utc >= %(start)s AND timestamp_utc < %(end)s
GROUP BY 1, 2, 3
