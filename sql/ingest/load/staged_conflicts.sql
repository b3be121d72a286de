-- Staged rows whose key (task, receiver, time) holds a stored row with other values: floats
-- compared with float_close (as the aggregates are), the rest exactly, NULL equal to NULL only.
-- With objects, only those just recorded as 'present' (their row is another's); the others wrote
-- the stored row themselves. One primary-key probe per staged row. Stored and staged values come
-- back side by side, in the order of loader.COMPARED_COLUMNS.
SELECT s.object_key, s.task_id, s.websdr_id, s.timestamp_utc,
       m.frequency_mhz, s.frequency_mhz,
       m.sample_rate_khz, s.sample_rate_khz,
       m.samples_count, s.samples_count,
       m.snr_db, s.snr_db,
       m.frequency_offset_hz, s.frequency_offset_hz,
       m.power_dbm, s.power_dbm,
       m.s3_path, s.s3_path
FROM measurements_staging s
JOIN measurements m ON m.task_id = s.task_id AND m.websdr_id = s.websdr_id AND m.timestamp_utc = s.timestamp_utc
WHERE NOT (float_close(m.frequency_mhz, s.frequency_mhz)
           AND float_close(m.sample_rate_khz, s.sample_rate_khz)
           AND m.samples_count = s.samples_count
           AND float_close(m.snr_db, s.snr_db)
           AND float_close(m.frequency_offset_hz, s.frequency_offset_hz)
           AND float_close(m.power_dbm, s.power_dbm)
           AND m.s3_path IS NOT DISTINCT FROM s.s3_path)
  AND (s.object_key IS NULL
       OR EXISTS (SELECT 1 FROM ingest_ledger l WHERE l.object_key = s.object_key AND l.status = 'present'))
ORDER BY s.object_key, s.task_id, s.websdr_id, s.timestamp_utc
