-- Per-session staging tables for the bulk loader; emptied at every commit, and truncated
-- again before each batch in case the caller wrapped batches in an outer transaction.
-- measurements_staging is made from measurements itself (its columns, types and NOT NULLs, in its
-- order), so the two cannot drift; without id, which only a stored row takes (a staged row must not
-- draw a number from the sequence); plus the metadata object each row came from (NULL when loaded
-- from measurement dicts). Created once per session.
DO $$
BEGIN
    IF to_regclass('pg_temp.measurements_staging') IS NULL THEN
        CREATE TEMP TABLE measurements_staging (
            LIKE measurements,
            object_key TEXT,
            etag TEXT,
            size_bytes BIGINT,
            last_modified TIMESTAMPTZ
        ) ON COMMIT DELETE ROWS;
        ALTER TABLE measurements_staging DROP COLUMN id;
    END IF;
END
$$;

CREATE TEMP TABLE IF NOT EXISTS ledger_staging (
    object_key TEXT NOT NULL,
    etag TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    last_modified TIMESTAMPTZ NOT NULL
) ON COMMIT DELETE ROWS;

TRUNCATE measurements_staging, ledger_staging;
