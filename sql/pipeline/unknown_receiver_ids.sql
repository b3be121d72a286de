-- Measurements among the objects uploaded in [start, end) whose websdr_id no station had at the
-- measurement's time (e.g. Heimdall added a receiver and the list was not synced yet), per id.
SELECT l.websdr_id, count(*) AS measurements
FROM ingest_ledger AS l
WHERE l.last_modified >= %(start)s AND l.last_modified < %(end)s
  AND l.status IN ('loaded', 'updated', 'duplicate')
  AND NOT EXISTS (
      SELECT FROM websdr_station_versions AS v
      WHERE v.websdr_id = l.websdr_id AND v.valid_during @> coalesce(l.timestamp_utc, l.last_modified)
  )
GROUP BY l.websdr_id
ORDER BY l.websdr_id
