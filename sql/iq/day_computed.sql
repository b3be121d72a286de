-- Recomputed metrics of the uploads in [start, end), for the asset's plot.
SELECT i.websdr_id, i.snr_db, i.frequency_offset_hz, i.no_signal
FROM ingest_ledger AS l
JOIN iq_metrics AS i
    ON i.task_id = l.task_id AND i.websdr_id = l.websdr_id AND i.timestamp_utc = l.timestamp_utc
WHERE l.last_modified >= %(start)s AND l.last_modified < %(end)s
  AND l.status IN ('loaded', 'updated', 'present', 'conflict')
  AND i.status = 'computed'
