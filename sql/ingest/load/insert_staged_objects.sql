-- Move staged rows into the hypertable and record each source object in the ledger, in one
-- statement. At most one row per object, the latest valid version wins. The ledger remembers the
-- row an object's earlier version loaded (task_id, websdr_id, timestamp_utc; not for 'present' or
-- 'conflict', whose row is another's), and for each staged object:
--   earlier row, same measurement time, other values  -> that row takes the new values: 'updated'
--   earlier row, another measurement time             -> that row is deleted, the new one inserted: 'updated'
--   earlier row, same time and values                 -> nothing to do: stays 'loaded' (its row is there)
--   no earlier row, the row is inserted               -> 'loaded'
--   no earlier row, a row with that key is there      -> 'present' (someone else's row is kept as it is);
--       the loader then compares that row's values with the object's in the same transaction and
--       re-records those that differ as 'conflict' with a reason (staged_conflicts.sql)
WITH earlier AS (
    -- From earlier_rows_of_staged.sql, passed back as arrays: small, so every join below probes
    -- the primary keys of measurements instead of scanning it.
    SELECT *
    FROM unnest(%(earlier_keys)s::text[], %(earlier_task_ids)s::text[], %(earlier_websdr_ids)s::int[],
                %(earlier_times)s::timestamptz[]) AS e(object_key, task_id, websdr_id, timestamp_utc)
), removed AS (
    DELETE FROM measurements m
    USING earlier e
    JOIN measurements_staging s ON s.object_key = e.object_key
    WHERE (e.task_id, e.websdr_id, e.timestamp_utc) IS DISTINCT FROM (s.task_id, s.websdr_id, s.timestamp_utc)
      AND m.task_id = e.task_id AND m.websdr_id = e.websdr_id AND m.timestamp_utc = e.timestamp_utc
    RETURNING e.object_key, e.timestamp_utc
), changed AS (
    UPDATE measurements m
    SET frequency_mhz = s.frequency_mhz,
        sample_rate_khz = s.sample_rate_khz,
        samples_count = s.samples_count,
        snr_db = s.snr_db,
        frequency_offset_hz = s.frequency_offset_hz,
        power_dbm = s.power_dbm,
        s3_path = s.s3_path
    FROM earlier e
    JOIN measurements_staging s ON s.object_key = e.object_key
    WHERE (e.task_id, e.websdr_id, e.timestamp_utc) = (s.task_id, s.websdr_id, s.timestamp_utc)
      AND m.task_id = e.task_id AND m.websdr_id = e.websdr_id AND m.timestamp_utc = e.timestamp_utc
      AND (m.frequency_mhz, m.sample_rate_khz, m.samples_count, m.snr_db, m.frequency_offset_hz, m.power_dbm, m.s3_path)
          IS DISTINCT FROM
          (s.frequency_mhz, s.sample_rate_khz, s.samples_count, s.snr_db, s.frequency_offset_hz, s.power_dbm, s.s3_path)
    RETURNING e.object_key
), inserted AS (
    INSERT INTO measurements (task_id, websdr_id, frequency_mhz, sample_rate_khz, samples_count,
                              timestamp_utc, snr_db, frequency_offset_hz, power_dbm, s3_path)
    SELECT task_id, websdr_id, frequency_mhz, sample_rate_khz, samples_count,
           timestamp_utc, snr_db, frequency_offset_hz, power_dbm, s3_path
    FROM measurements_staging  -- an unchanged earlier row conflicts; a gone one (dropped day) is inserted
    ON CONFLICT DO NOTHING
    RETURNING task_id, websdr_id, timestamp_utc
), outcome AS (
    SELECT s.*,
           CASE
               WHEN c.object_key IS NOT NULL THEN 'updated'
               WHEN i.task_id IS NOT NULL AND r.object_key IS NOT NULL THEN 'updated'
               WHEN i.task_id IS NOT NULL THEN 'inserted'
               WHEN (e.task_id, e.websdr_id, e.timestamp_utc) = (s.task_id, s.websdr_id, s.timestamp_utc) THEN 'unchanged'
               ELSE 'duplicate'
           END AS outcome,
           r.timestamp_utc AS replaced
    FROM measurements_staging s
    LEFT JOIN earlier e ON e.object_key = s.object_key
    LEFT JOIN changed c ON c.object_key = s.object_key
    LEFT JOIN removed r ON r.object_key = s.object_key
    LEFT JOIN inserted i ON (i.task_id, i.websdr_id, i.timestamp_utc) = (s.task_id, s.websdr_id, s.timestamp_utc)
), recorded AS (
    INSERT INTO ingest_ledger AS ledger (object_key, etag, size_bytes, last_modified, status, reason,
                                        task_id, websdr_id, timestamp_utc, replaced_timestamp_utc, processed_at)
    SELECT object_key, etag, size_bytes, last_modified,
           CASE outcome WHEN 'inserted' THEN 'loaded' WHEN 'unchanged' THEN 'loaded' WHEN 'duplicate' THEN 'present'
                ELSE outcome END, NULL,
           task_id, websdr_id, timestamp_utc, replaced, now()
    FROM outcome
    ON CONFLICT (object_key) DO UPDATE SET
        etag = EXCLUDED.etag,
        size_bytes = EXCLUDED.size_bytes,
        last_modified = EXCLUDED.last_modified,
        status = EXCLUDED.status,
        reason = NULL,
        task_id = EXCLUDED.task_id,
        websdr_id = EXCLUDED.websdr_id,
        timestamp_utc = EXCLUDED.timestamp_utc,
        replaced_timestamp_utc = EXCLUDED.replaced_timestamp_utc,
        processed_at = EXCLUDED.processed_at,
        last_error = NULL
    RETURNING ledger.object_key
)
-- (PostgreSQL runs every data-modifying CTE once, referenced or not.) Rows inserted, objects whose
-- row was there already (another's), rows replaced; an object whose own row already holds the
-- same values counts in none of them.
SELECT count(*) FILTER (WHERE outcome = 'inserted'),
       count(*) FILTER (WHERE outcome = 'duplicate'),
       count(*) FILTER (WHERE outcome = 'updated')
FROM outcome
