-- Move staged rows into the hypertable and record each source object in the ledger as
-- 'loaded' (its row was inserted) or 'duplicate' (the row was already there), in one statement.
WITH inserted AS (
    INSERT INTO measurements (task_id, websdr_id, frequency_mhz, sample_rate_khz, samples_count,
                              timestamp_utc, snr_db, frequency_offset_hz, power_dbm, s3_path)
    SELECT task_id, websdr_id, frequency_mhz, sample_rate_khz, samples_count,
           timestamp_utc, snr_db, frequency_offset_hz, power_dbm, s3_path
    FROM measurements_staging
    ON CONFLICT DO NOTHING
    RETURNING task_id, websdr_id, timestamp_utc
), recorded AS (
    INSERT INTO ingest_ledger AS ledger (object_key, etag, size_bytes, last_modified, status, reason,
                                        task_id, websdr_id, timestamp_utc, processed_at)
    SELECT s.object_key, s.etag, s.size_bytes, s.last_modified,
           CASE WHEN i.task_id IS NULL THEN 'duplicate' ELSE 'loaded' END, NULL,
           s.task_id, s.websdr_id, s.timestamp_utc, now()
    FROM measurements_staging s
    LEFT JOIN inserted i USING (task_id, websdr_id, timestamp_utc)
    ON CONFLICT (object_key) DO UPDATE SET
        etag = EXCLUDED.etag,
        size_bytes = EXCLUDED.size_bytes,
        last_modified = EXCLUDED.last_modified,
        status = EXCLUDED.status,
        reason = NULL,
        task_id = EXCLUDED.task_id,
        websdr_id = EXCLUDED.websdr_id,
        timestamp_utc = EXCLUDED.timestamp_utc,
        processed_at = EXCLUDED.processed_at,
    last_error = NULL
    RETURNING ledger.status
)
SELECT count(*) FILTER (WHERE status = 'loaded'), count(*) FILTER (WHERE status = 'duplicate')
FROM recorded
