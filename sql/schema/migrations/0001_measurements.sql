-- The measurements hypertable, exactly as Heimdall's seed defines it, with 1-day chunks.
-- One row per (acquisition, receiver): the primary key makes re-loads idempotent.
CREATE TABLE measurements (
    id BIGSERIAL NOT NULL,
    task_id TEXT NOT NULL,
    websdr_id INTEGER NOT NULL,
    frequency_mhz FLOAT8 NOT NULL,
    sample_rate_khz FLOAT8 NOT NULL,
    samples_count INTEGER NOT NULL,
    timestamp_utc TIMESTAMPTZ NOT NULL,

    -- Metrics
    snr_db FLOAT8,
    frequency_offset_hz FLOAT8,
    power_dbm FLOAT8,

    -- Storage reference: the IQ recording beside the metadata object
    s3_path TEXT,

    PRIMARY KEY (task_id, websdr_id, timestamp_utc)
);

-- Only the seed's indexes: the default time index would cost every insert and serve no query
-- that chunk exclusion plus idx_measurements_websdr_time do not.
SELECT create_hypertable('measurements', 'timestamp_utc', chunk_time_interval => INTERVAL '1 day',
                         create_default_indexes => FALSE);

CREATE INDEX idx_measurements_websdr_time ON measurements (websdr_id, timestamp_utc DESC);
CREATE INDEX idx_measurements_task_time ON measurements (task_id, timestamp_utc DESC);
CREATE INDEX idx_measurements_frequency ON measurements (frequency_mhz, timestamp_utc DESC);
