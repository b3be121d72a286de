-- Per status, the recordings of the measurements that uploads in [start, end) name (whoever
-- inserted the row: day_recordings.sql); 'pending' =
-- no iq_metrics row yet. With how many computed rows carry each quality flag.
SELECT coalesce(i.status, 'pending') AS status,
       count(*) AS recordings,
       count(*) FILTER (WHERE i.no_signal) AS no_signal,
       count(*) FILTER (WHERE i.samples_count_mismatch) AS samples_count_mismatch,
       count(*) FILTER (WHERE i.dc_spike) AS dc_spike,
       count(*) FILTER (WHERE i.clipping_ratio > 0) AS clipped,
       count(*) FILTER (WHERE i.status IS NOT NULL AND i.algorithm_version <> %(algorithm_version)s) AS older_version
FROM ingest_ledger AS l
JOIN measurements AS m
    ON m.task_id = l.task_id AND m.websdr_id = l.websdr_id AND m.timestamp_utc = l.timestamp_utc
LEFT JOIN iq_metrics AS i
    ON i.task_id = m.task_id AND i.websdr_id = m.websdr_id AND i.timestamp_utc = m.timestamp_utc
WHERE l.last_modified >= %(start)s AND l.last_modified < %(end)s
  AND l.status IN ('loaded', 'updated', 'present', 'conflict')
GROUP BY 1
ORDER BY 1
