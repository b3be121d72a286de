-- Community edition only: iq_metrics compressed like measurements (0009's layout: one segment per
-- receiver, ordered by time) after 7 days. Re-computing a compressed day (a new algorithm version)
-- upserts into compressed chunks, which TimescaleDB supports from 2.11 on.
ALTER TABLE iq_metrics SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'websdr_id',
    timescaledb.compress_orderby = 'timestamp_utc DESC'
);

SELECT add_compression_policy('iq_metrics', INTERVAL '7 days', if_not_exists => TRUE);
