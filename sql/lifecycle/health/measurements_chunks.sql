-- One row per chunk of measurements: time range, whether it is compressed, its bytes now, and for
-- compressed chunks the bytes before and after compression (chunk_compression_stats).
WITH measurements_table AS (
    SELECT n.nspname AS schema_name, c.relname AS table_name
    FROM pg_class AS c
    JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.oid = 'measurements'::regclass
)
SELECT ch.chunk_name,
       ch.range_start,
       ch.range_end,
       ch.is_compressed,
       size.total_bytes,
       stats.before_compression_total_bytes,
       stats.after_compression_total_bytes
FROM timescaledb_information.chunks AS ch
JOIN measurements_table AS m ON ch.hypertable_schema = m.schema_name AND ch.hypertable_name = m.table_name
LEFT JOIN chunks_detailed_size('measurements') AS size
    ON size.chunk_schema = ch.chunk_schema AND size.chunk_name = ch.chunk_name
LEFT JOIN chunk_compression_stats('measurements') AS stats
    ON stats.chunk_schema = ch.chunk_schema AND stats.chunk_name = ch.chunk_name AND ch.is_compressed
ORDER BY ch.range_start;
