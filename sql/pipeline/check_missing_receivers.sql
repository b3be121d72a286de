-- Active receivers with no measurement among the objects uploaded in [start, end), and how many
-- measurements each receiver that did report has there.
SELECT s.id, s.name, count(l.object_key) AS measurements
FROM websdr_stations s
LEFT JOIN ingest_ledger l
       ON l.websdr_id = s.id
      AND l.last_modified >= %(start)s AND l.last_modified < %(end)s
      AND l.status IN ('loaded', 'updated', 'duplicate')
WHERE s.active
GROUP BY s.id, s.name
ORDER BY s.id
