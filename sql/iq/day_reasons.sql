-- Why recordings of the uploads in [start, end) were not computed: per status and reason code
-- (the text before the first colon), how many, and one full reason as an example.
SELECT i.status, split_part(i.reason, ':', 1) AS code, count(*) AS recordings, min(i.reason) AS example
FROM ingest_ledger AS l
JOIN iq_metrics AS i
    ON i.task_id = l.task_id AND i.websdr_id = l.websdr_id AND i.timestamp_utc = l.timestamp_utc
WHERE l.last_modified >= %(start)s AND l.last_modified < %(end)s
  AND l.status IN ('loaded', 'updated', 'present', 'conflict')
  AND i.status <> 'computed'
GROUP BY 1, 2
ORDER BY 3 DESC, 1, 2
