-- Each station active now (websdr_station_versions), with
--   active_since: the start of its current unbroken run of active versions (renumbering and edits
--                 keep a station active; NULL for a run that began at -infinity, the seed's);
--   last_heard:   its newest measurement under any id it had at that row's time, not after now;
--   data_since:   the start of the oldest chunk of measurements (NULL while there are none): no
--                 receiver can have been heard before the database holds data;
--   checked_at:   the database's clock.
-- The last measurement per version is one probe of idx_measurements_websdr_time per chunk, newest first.
WITH versions AS (
    SELECT station_key, websdr_id, name, active, valid_during,
           lag(active) OVER by_station AS previous_active,
           lag(upper(valid_during)) OVER by_station AS previous_end
    FROM websdr_station_versions
    WINDOW by_station AS (PARTITION BY station_key ORDER BY lower(valid_during))
), active_now AS (
    SELECT station_key, websdr_id, name
    FROM versions
    WHERE active AND valid_during @> now()
), active_runs AS (
    SELECT station_key, max(lower(valid_during)) AS since
    FROM versions
    WHERE active AND lower(valid_during) <= now()
      AND (previous_active IS NOT TRUE OR previous_end IS DISTINCT FROM lower(valid_during))
    GROUP BY station_key
), measurements_table AS (
    SELECT n.nspname AS schema_name, c.relname AS table_name
    FROM pg_class AS c
    JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.oid = 'measurements'::regclass
), data AS (
    SELECT min(ch.range_start) AS since
    FROM timescaledb_information.chunks AS ch
    JOIN measurements_table AS m ON ch.hypertable_schema = m.schema_name AND ch.hypertable_name = m.table_name
)
SELECT a.station_key,
       a.websdr_id,
       a.name,
       nullif(r.since, '-infinity') AS active_since,
       heard.last_heard,
       d.since AS data_since,
       now() AS checked_at
FROM active_now AS a
JOIN active_runs AS r USING (station_key)
CROSS JOIN data AS d
LEFT JOIN LATERAL (
    SELECT max((
        SELECT m.timestamp_utc
        FROM measurements AS m
        WHERE m.websdr_id = v.websdr_id
          AND m.timestamp_utc >= lower(v.valid_during) AND m.timestamp_utc < upper(v.valid_during)
          AND m.timestamp_utc <= now()
        ORDER BY m.timestamp_utc DESC
        LIMIT 1
    )) AS last_heard
    FROM versions AS v
    WHERE v.station_key = a.station_key AND v.websdr_id IS NOT NULL
) AS heard ON TRUE
ORDER BY a.websdr_id;
