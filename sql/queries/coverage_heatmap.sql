-- The coverage heat map's cells: measurements per receiver per hour in [window_start, window_end).
SELECT websdr_id, bucket AS hour, sum(measurement_count)::bigint AS measurement_count
FROM measurements_hourly
WHERE bucket >= %(window_start)s AND bucket < %(window_end)s
GROUP BY 1, 2
ORDER BY 1, 2
