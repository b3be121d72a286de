-- SNR of the measurement rows loaded from objects uploaded in [start, end): how many lie outside
-- [min_snr_db, max_snr_db], and the observed range.
SELECT count(*) AS measurements,
       count(*) FILTER (WHERE m.snr_db < %(min_snr_db)s OR m.snr_db > %(max_snr_db)s) AS out_of_range,
       min(m.snr_db) AS min_snr_db,
       max(m.snr_db) AS max_snr_db
FROM ingest_ledger l
JOIN measurements m USING (task_id, websdr_id, timestamp_utc)
WHERE l.last_modified >= %(start)s AND l.last_modified < %(end)s
  AND l.status IN ('loaded', 'updated')
