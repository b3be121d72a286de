-- One UTC day of measurements in loader column order (measurement.COLUMNS), by primary key.
-- id is a surrogate and not archived: restore assigns new ones, the primary key is the identity.
SELECT task_id, websdr_id, frequency_mhz, sample_rate_khz, samples_count, timestamp_utc,
       snr_db, frequency_offset_hz, power_dbm, s3_path
FROM measurements
WHERE timestamp_utc >= %(start)s AND timestamp_utc < %(end)s
ORDER BY task_id, websdr_id, timestamp_utc
