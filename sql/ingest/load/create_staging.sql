-- Per-session staging tables for the bulk loader; emptied at every commit, and truncated
-- again before each batch in case the caller wrapped batches in an outer transaction.
CREATE TEMP TABLE IF NOT EXISTS measurements_staging (
    task_id TEXT NOT NULL,
    websdr_id INTEGER NOT NULL,
    frequency_mhz FLOAT8 NOT NULL,
    sample_rate_khz FLOAT8 NOT NULL,
    samples_count INTEGER NOT NULL,
    timestamp_utc TIMESTAMPTZ NOT NULL,
    snr_db FLOAT8,
    frequency_offset_hz FLOAT8,
    power_dbm FLOAT8,
    s3_path TEXT,
    -- The metadata object the row came from (NULL when loaded from measurement dicts).
    object_key TEXT,
    etag TEXT,
    size_bytes BIGINT,
    last_modified TIMESTAMPTZ
) ON COMMIT DELETE ROWS;

CREATE TEMP TABLE IF NOT EXISTS ledger_staging (
    object_key TEXT NOT NULL,
    etag TEXT NOT NULL,
    size_bytes BIGINT NOT NULL,
    last_modified TIMESTAMPTZ NOT NULL
) ON COMMIT DELETE ROWS;

TRUNCATE measurements_staging, ledger_staging;
