-- The compression settings of measurements: segmentby columns, then orderby columns, in order.
-- No rows where compression is not enabled (always on the Apache edition).
WITH measurements_table AS (
    SELECT n.nspname AS schema_name, c.relname AS table_name
    FROM pg_class AS c
    JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.oid = 'measurements'::regclass
)
SELECT s.attname, s.segmentby_column_index, s.orderby_column_index, s.orderby_asc
FROM timescaledb_information.compression_settings AS s
JOIN measurements_table AS m ON s.hypertable_schema = m.schema_name AND s.hypertable_name = m.table_name
ORDER BY s.segmentby_column_index NULLS LAST, s.orderby_column_index;
