-- Hourly aggregates per receiver and frequency. Rebuilt a day at a time by the pipeline so it
-- always equals a from-scratch time_bucket('1 hour', ...) over measurements.
CREATE TABLE measurements_hourly (
    bucket TIMESTAMPTZ NOT NULL,
    websdr_id INTEGER NOT NULL,
    frequency_mhz FLOAT8 NOT NULL,
    measurement_count INTEGER NOT NULL,
    snr_avg_db FLOAT8,
    snr_min_db FLOAT8,
    snr_max_db FLOAT8,
    snr_p50_db FLOAT8,
    snr_p95_db FLOAT8,
    power_avg_dbm FLOAT8,
    offset_avg_hz FLOAT8,
    offset_min_hz FLOAT8,
    offset_max_hz FLOAT8,
    offset_stddev_hz FLOAT8,
    PRIMARY KEY (bucket, websdr_id, frequency_mhz)
);
