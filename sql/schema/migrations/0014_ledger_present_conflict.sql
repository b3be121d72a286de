-- 'duplicate' said only "a row with this key was already there". It becomes one of two statuses:
--   present   the row with the object's key (task, receiver, time) was already there with the same
--             values (floats within float_close): e.g. Heimdall's worker stored it first
--   conflict  a row with that key was already there with other values; it is kept as it is, and
--             `reason` names the columns that differ with both values
-- Which of the two an old 'duplicate' was cannot be told from the database (the ledger never kept
-- the object's values), so each goes back to 'pending' and the next run of its upload day (the
-- sensor and the daily schedule request one for days with pending objects) fetches it again and
-- compares. Its key is forgotten, as for a new version: the row is another's, never the object's
-- own. One exception: when the row's day was archived and dropped by retention, re-loading the
-- object would put its values back beside the archive's; those stay, as 'present' with a reason
-- saying they were not compared.
ALTER TABLE ingest_ledger
    DROP CONSTRAINT ingest_ledger_status_check,
    DROP CONSTRAINT ingest_ledger_reason_check;

UPDATE ingest_ledger l
SET status = 'present',
    reason = 'present: recorded as duplicate before migration 0014; its day was archived and dropped, so the values were not compared'
WHERE l.status = 'duplicate'
  AND EXISTS (SELECT 1 FROM measurement_archives a
              WHERE a.day = (l.timestamp_utc AT TIME ZONE 'UTC')::date AND a.dropped_at IS NOT NULL);

UPDATE ingest_ledger
SET status = 'pending',
    reason = NULL,
    task_id = NULL,
    websdr_id = NULL,
    timestamp_utc = NULL,
    replaced_timestamp_utc = NULL,
    processed_at = NULL,
    attempts = 0,
    last_error = NULL
WHERE status = 'duplicate';

ALTER TABLE ingest_ledger
    ADD CONSTRAINT ingest_ledger_status_check
        CHECK (status IN ('pending', 'loaded', 'updated', 'present', 'conflict', 'rejected', 'missing', 'failed')),
    -- A reason is required where it says what went wrong; 'present' may carry one (see above).
    ADD CONSTRAINT ingest_ledger_reason_check
        CHECK (CASE WHEN status IN ('rejected', 'missing', 'failed', 'conflict') THEN reason IS NOT NULL
                    WHEN status = 'present' THEN TRUE
                    ELSE reason IS NULL END);

-- The conflict check counts a day's conflicts; they are few, so a partial index finds them at once.
CREATE INDEX idx_ingest_ledger_conflict ON ingest_ledger (last_modified) WHERE status = 'conflict';
