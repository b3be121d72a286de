-- The coverage heat map's cells: measurements per station and hour in [window_start, window_end),
-- each measurement counted for the station that had its id at its time ('websdr N' for an id no
-- station had). From raw rows: an hour's aggregate per id would mix the stations of a change.
SELECT coalesce(s.station_key, 'websdr ' || m.websdr_id) AS station_key,
       time_bucket('1 hour', m.timestamp_utc) AS hour,
       count(*) AS measurement_count
FROM measurements AS m
LEFT JOIN websdr_station_versions AS s ON s.websdr_id = m.websdr_id AND s.valid_during @> m.timestamp_utc
WHERE m.timestamp_utc >= %(window_start)s AND m.timestamp_utc < %(window_end)s
GROUP BY 1, 2
ORDER BY 1, 2
