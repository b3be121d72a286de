-- The rows of an upload day [start, end), whoever inserted them (upload_day_rows, migration 0022):
-- measured in [start, end), or named by the day's uploads and measured on another day. What
-- dagster/row_count of `measurements` counts and what the SNR and offset checks evaluate.
SELECT count(*) AS measurements,
       count(*) FILTER (WHERE measured_on_day) AS measured_on_day,
       count(*) FILTER (WHERE NOT measured_on_day) AS measured_on_other_days,
       count(*) FILTER (WHERE snr_db < %(min_snr_db)s OR snr_db > %(max_snr_db)s) AS snr_out_of_range,
       min(snr_db) AS min_snr_db,
       max(snr_db) AS max_snr_db,
       count(*) FILTER (WHERE abs(frequency_offset_hz) > sample_rate_khz * 1000 / 2) AS offset_out_of_range,
       max(abs(frequency_offset_hz)) AS max_abs_offset_hz
FROM upload_day_rows(%(start)s, %(end)s)
