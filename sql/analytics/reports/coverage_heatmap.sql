-- The coverage heat map's cells: measurements per station and hour in [window_start, window_end),
-- each measurement counted for the station that had its id at its time ('websdr N' for an id no
-- station had; report_rows, migration 0022). From raw rows: an hour's aggregate per id would mix
-- the stations of a change.
SELECT r.station_key,
       time_bucket('1 hour', r.timestamp_utc) AS hour,
       count(*) AS measurement_count
FROM report_rows(%(window_start)s, %(window_end)s, 'stored') AS r
GROUP BY 1, 2
ORDER BY 1, 2
