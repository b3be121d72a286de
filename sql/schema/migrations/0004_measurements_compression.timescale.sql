-- Community edition only (timescaledb.license = 'timescale'): compress chunks older than 7 days.
-- No add_retention_policy on purpose: it would drop chunks whether or not they were archived and
-- aggregated; retention is the pipeline's archive-then-drop job.
ALTER TABLE measurements SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'websdr_id, task_id',
    timescaledb.compress_orderby = 'timestamp_utc DESC'
);

SELECT add_compression_policy('measurements', INTERVAL '7 days', if_not_exists => TRUE);
