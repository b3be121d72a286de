-- The receivers expected among the objects uploaded in [start, end): every station that was active
-- (had an id) at any moment of [start, end), so on a day that holds a change both the station
-- deactivated and the one added are expected. Each with the measurements of those objects that
-- its id named at the measurement's time (websdr_station_versions), and the id (or ids, when
-- renumbered that day) it had: the id shown is its last one of the day.
WITH station_ids AS (
    SELECT station_key,
           websdr_id,
           max(lower(valid_during)) AS since,
           (array_agg(name ORDER BY lower(valid_during) DESC))[1] AS name
    FROM websdr_station_versions
    WHERE websdr_id IS NOT NULL AND valid_during && tstzrange(%(start)s, %(end)s, '[)')
    GROUP BY station_key, websdr_id
),
expected AS (
    SELECT station_key,
           (array_agg(websdr_id ORDER BY since DESC))[1] AS websdr_id,
           (array_agg(name ORDER BY since DESC))[1] AS name,
           string_agg(websdr_id::text, ', ' ORDER BY since) AS websdr_ids
    FROM station_ids
    GROUP BY station_key
),
heard AS (
    SELECT v.station_key, count(*) AS measurements
    FROM ingest_ledger AS l
    JOIN websdr_station_versions AS v
      ON v.websdr_id = l.websdr_id AND v.valid_during @> coalesce(l.timestamp_utc, l.last_modified)
    WHERE l.last_modified >= %(start)s AND l.last_modified < %(end)s
      AND l.status IN ('loaded', 'updated', 'duplicate')
    GROUP BY v.station_key
)
SELECT e.websdr_id, e.name, coalesce(h.measurements, 0) AS measurements, e.station_key, e.websdr_ids
FROM expected AS e
LEFT JOIN heard AS h USING (station_key)
ORDER BY e.websdr_id, e.name
