-- Community edition only: the compression layout of migration 0004, replaced.
-- 0004 segmented by (websdr_id, task_id), the seed's choice. Each pair is one row, so every
-- compressed batch held one row and compression doubled the table (size ratio 0.43 on a
-- 20,355-row day, TimescaleDB 2.28.3). One segment per receiver, ordered by time, measured 3.76
-- on the same day; the README's "Compression layout" gives the numbers and the reasoning.
--
-- Chunks already compressed with the old layout are decompressed and compressed again with the
-- new one, here, in this migration's transaction: TimescaleDB before 2.14 refuses the ALTER while
-- compressed chunks exist, and from 2.14 on they would keep the old layout, because the policy
-- does not recompress a fully compressed chunk whose settings changed. decompress_chunk and
-- compress_chunk are plain functions, so all of this is one transaction: it applies whole or
-- not at all. It holds an exclusive lock on measurements while it runs; the work grows with the
-- compressed days (older than 7 days and not yet dropped by the 30-day retention: about 23).
CREATE TEMPORARY TABLE measurements_chunks_to_recompress ON COMMIT DROP AS
SELECT chunk
FROM show_chunks('measurements') AS chunk
JOIN timescaledb_information.chunks AS info
    ON format('%I.%I', info.chunk_schema, info.chunk_name)::regclass = chunk
WHERE info.is_compressed;

SELECT decompress_chunk(chunk) FROM measurements_chunks_to_recompress ORDER BY chunk;

ALTER TABLE measurements SET (
    timescaledb.compress,
    timescaledb.compress_segmentby = 'websdr_id',
    timescaledb.compress_orderby = 'timestamp_utc DESC'
);

SELECT compress_chunk(chunk) FROM measurements_chunks_to_recompress ORDER BY chunk;
