-- Measurement rows loaded from objects uploaded in [start, end) whose frequency offset lies
-- outside ±sample_rate/2 (the offset cannot exceed the Nyquist limit of the recording).
SELECT count(*) AS measurements,
       count(*) FILTER (WHERE abs(m.frequency_offset_hz) > m.sample_rate_khz * 1000 / 2) AS out_of_range,
       max(abs(m.frequency_offset_hz)) AS max_abs_offset_hz
FROM ingest_ledger l
JOIN measurements m USING (task_id, websdr_id, timestamp_utc)
WHERE l.last_modified >= %(start)s AND l.last_modified < %(end)s
  AND l.status IN ('loaded', 'updated')
