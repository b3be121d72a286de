-- The rows of an upload day [start, end), whoever inserted them (this pipeline or Heimdall's
-- worker): every row measured in [start, end), and every row the day's uploads name (their own,
-- or the one they found already there) measured on another day (late uploads). What
-- dagster/row_count of `measurements` counts and what the SNR and offset checks evaluate.
-- One chunk (1-day chunks) plus a primary-key probe per late upload.
-- check_missing_receivers.sql and unknown_receiver_ids.sql take the same rows per receiver: change them together.
WITH late AS (
    SELECT DISTINCT task_id, websdr_id, timestamp_utc
    FROM ingest_ledger
    WHERE last_modified >= %(start)s AND last_modified < %(end)s
      AND status IN ('loaded', 'updated', 'present', 'conflict')
      AND (timestamp_utc < %(start)s OR timestamp_utc >= %(end)s)
), day_rows AS (
    SELECT m.snr_db, m.frequency_offset_hz, m.sample_rate_khz, TRUE AS measured_on_day
    FROM measurements m
    WHERE m.timestamp_utc >= %(start)s AND m.timestamp_utc < %(end)s
    UNION ALL
    SELECT m.snr_db, m.frequency_offset_hz, m.sample_rate_khz, FALSE
    FROM late
    JOIN measurements m USING (task_id, websdr_id, timestamp_utc)
)
SELECT count(*) AS measurements,
       count(*) FILTER (WHERE measured_on_day) AS measured_on_day,
       count(*) FILTER (WHERE NOT measured_on_day) AS measured_on_other_days,
       count(*) FILTER (WHERE snr_db < %(min_snr_db)s OR snr_db > %(max_snr_db)s) AS snr_out_of_range,
       min(snr_db) AS min_snr_db,
       max(snr_db) AS max_snr_db,
       count(*) FILTER (WHERE abs(frequency_offset_hz) > sample_rate_khz * 1000 / 2) AS offset_out_of_range,
       max(abs(frequency_offset_hz)) AS max_abs_offset_hz
FROM day_rows
