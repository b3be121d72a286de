-- The receivers expected on the upload day [start, end): every station that was active (had an id)
-- at any moment of [start, end) (stations_in_window, migration 0022), so on a day that holds a
-- change both the station deactivated and the one added are expected; with the id (or ids, when
-- renumbered that day) it had, the id shown being its last one of the day. Each with its rows among
-- the day's rows (upload_day_rows: whoever inserted them), each row counted for the station its id
-- named at the row's time (websdr_station_versions).
WITH heard AS (
    SELECT v.station_key, count(*) AS measurements
    FROM upload_day_rows(%(start)s, %(end)s) AS r
    JOIN websdr_station_versions AS v
      ON v.websdr_id = r.websdr_id AND v.valid_during @> r.timestamp_utc
    GROUP BY v.station_key
)
SELECT e.websdr_id, e.name, coalesce(h.measurements, 0) AS measurements, e.station_key, e.websdr_ids
FROM stations_in_window(%(start)s, %(end)s) AS e
LEFT JOIN heard AS h USING (station_key)
ORDER BY e.websdr_id, e.name
