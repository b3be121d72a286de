-- Objects that vanished, objects that keep failing, and an object's new version replacing its row:
--   missing  the listing named it, then GET answered NoSuchKey (deleted after listing); listed again, it is pending again
--   failed   its GET failed in `attempts` runs (transient errors retried within each run); reason = the last error
--   updated  a new version of the object replaced the row its earlier version had loaded
-- `attempts` counts the runs whose GET of the current version failed; `last_error` keeps the last
-- such error while the object is still pending. A new ETag starts the count again.
DO $$
DECLARE
    constraint_name TEXT;
BEGIN
    FOR constraint_name IN
        SELECT conname FROM pg_constraint WHERE conrelid = 'ingest_ledger'::regclass AND contype = 'c'
    LOOP
        EXECUTE format('ALTER TABLE ingest_ledger DROP CONSTRAINT %I', constraint_name);
    END LOOP;
END
$$;

ALTER TABLE ingest_ledger
    ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    ADD COLUMN last_error TEXT,
    ADD COLUMN last_attempt_at TIMESTAMPTZ,
    ADD CONSTRAINT ingest_ledger_status_check
        CHECK (status IN ('pending', 'loaded', 'duplicate', 'updated', 'rejected', 'missing', 'failed')),
    ADD CONSTRAINT ingest_ledger_reason_check
        CHECK ((status IN ('rejected', 'missing', 'failed')) = (reason IS NOT NULL));
