-- Metrics recomputed from each measurement's IQ recording (heimdall_pipeline.iq_metrics), and the
-- ledger of those recordings in the same row: every measurement of a day's uploads gets one row,
-- computed (metrics filled) or not (status + reason), like ingest_ledger does for the metadata.
--   computed  the recording was read and its metrics computed with algorithm_version
--   rejected  the recording is not a usable 1-D complex array (reason says why); never loaded further
--   missing   no recording: the measurement has no s3_path, or GET answered NoSuchKey
--   failed    the GET failed after its retries (a transient error); the next run tries again
-- Key: the key of measurements, one row per measurement.
CREATE TABLE iq_metrics (
    task_id TEXT NOT NULL,
    websdr_id INTEGER NOT NULL,
    timestamp_utc TIMESTAMPTZ NOT NULL,
    s3_path TEXT,                            -- the recording read (measurements.s3_path at the time)
    status TEXT NOT NULL CHECK (status IN ('computed', 'rejected', 'missing', 'failed')),
    reason TEXT,

    -- Metrics (dBFS: relative to full scale; no calibration exists, so never dBm)
    snr_db FLOAT8,                           -- NULL when no signal was detected
    frequency_offset_hz FLOAT8,              -- NULL when no signal was detected
    signal_power_dbfs FLOAT8,
    noise_floor_dbfs FLOAT8,
    occupied_bandwidth_hz FLOAT8,

    -- Quality flags
    clipping_ratio FLOAT8,
    dc_spike BOOLEAN,
    no_signal BOOLEAN,
    samples_count INTEGER,                   -- samples in the recording
    samples_count_mismatch BOOLEAN,          -- differs from measurements.samples_count

    recording_bytes BIGINT,                  -- Content-Length of the recording's GET
    algorithm_version INTEGER NOT NULL,      -- heimdall_pipeline.iq_metrics.ALGORITHM_VERSION
    computed_at TIMESTAMPTZ NOT NULL DEFAULT now(),

    PRIMARY KEY (task_id, websdr_id, timestamp_utc),
    CHECK ((status = 'computed') = (reason IS NULL)),
    CHECK (status <> 'computed' OR (samples_count IS NOT NULL AND no_signal IS NOT NULL))
);

SELECT create_hypertable('iq_metrics', 'timestamp_utc', chunk_time_interval => INTERVAL '1 day',
                         create_default_indexes => FALSE);

-- Reports join iq_metrics to measurements per receiver and time window.
CREATE INDEX idx_iq_metrics_websdr_time ON iq_metrics (websdr_id, timestamp_utc DESC);
