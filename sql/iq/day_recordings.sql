-- The measurements that objects uploaded in [start, end) name, whoever inserted the row (ledger
-- loaded / updated, or present / conflict when Heimdall's worker stored it first: then the stored
-- row's recording is the one measured), with their recording and what iq_metrics holds for them so far (NULLs: nothing yet).
SELECT m.task_id, m.websdr_id, m.timestamp_utc, m.s3_path, m.samples_count, m.sample_rate_khz,
       i.status, i.algorithm_version, i.s3_path AS computed_s3_path
FROM ingest_ledger AS l
JOIN measurements AS m
    ON m.task_id = l.task_id AND m.websdr_id = l.websdr_id AND m.timestamp_utc = l.timestamp_utc
LEFT JOIN iq_metrics AS i
    ON i.task_id = m.task_id AND i.websdr_id = m.websdr_id AND i.timestamp_utc = m.timestamp_utc
WHERE l.last_modified >= %(start)s AND l.last_modified < %(end)s
  AND l.status IN ('loaded', 'updated', 'present', 'conflict')
ORDER BY m.timestamp_utc, m.task_id, m.websdr_id
