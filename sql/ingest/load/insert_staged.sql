-- Move staged rows into the hypertable; rows whose key is already there are duplicates.
INSERT INTO measurements (task_id, websdr_id, frequency_mhz, sample_rate_khz, samples_count,
                          timestamp_utc, snr_db, frequency_offset_hz, power_dbm, s3_path)
SELECT task_id, websdr_id, frequency_mhz, sample_rate_khz, samples_count,
       timestamp_utc, snr_db, frequency_offset_hz, power_dbm, s3_path
FROM measurements_staging
ON CONFLICT DO NOTHING
