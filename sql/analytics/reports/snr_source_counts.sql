-- How many of the window's measurements have a recomputed SNR source (a computed recording): what
-- an SNR report says beside its choice of SNR.
SELECT count(*) AS measurements,
       count(i.task_id) AS recomputed,
       count(i.task_id) FILTER (WHERE i.no_signal) AS no_signal
FROM measurements AS m
LEFT JOIN iq_metrics AS i
    ON i.task_id = m.task_id AND i.websdr_id = m.websdr_id AND i.timestamp_utc = m.timestamp_utc
   AND i.timestamp_utc >= %(window_start)s AND i.timestamp_utc < %(window_end)s
   AND i.status = 'computed'
WHERE m.timestamp_utc >= %(window_start)s AND m.timestamp_utc < %(window_end)s
