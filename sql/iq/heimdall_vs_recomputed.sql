-- Heimdall's stored metrics beside the recomputed ones, per measurement of the uploads in
-- [start, end) whose recording was computed, whoever inserted the row. Each named by the station
-- that had its id at the measurement's time (websdr_station_versions).
SELECT m.websdr_id,
       coalesce(s.name, 'websdr ' || m.websdr_id) AS receiver,
       m.task_id, m.timestamp_utc,
       m.snr_db AS stored_snr_db, i.snr_db AS recomputed_snr_db,
       m.frequency_offset_hz AS stored_offset_hz, i.frequency_offset_hz AS recomputed_offset_hz,
       i.no_signal
FROM ingest_ledger AS l
JOIN measurements AS m
    ON m.task_id = l.task_id AND m.websdr_id = l.websdr_id AND m.timestamp_utc = l.timestamp_utc
JOIN iq_metrics AS i
    ON i.task_id = m.task_id AND i.websdr_id = m.websdr_id AND i.timestamp_utc = m.timestamp_utc
LEFT JOIN websdr_station_versions AS s ON s.websdr_id = m.websdr_id AND s.valid_during @> m.timestamp_utc
WHERE l.last_modified >= %(start)s AND l.last_modified < %(end)s
  AND l.status IN ('loaded', 'updated', 'present', 'conflict')
  AND i.status = 'computed'
ORDER BY m.websdr_id, m.timestamp_utc, m.task_id
