-- UTC days that still have measurements and end at or before the cutoff (a UTC midnight).
SELECT DISTINCT (timestamp_utc AT TIME ZONE 'UTC')::date AS day
FROM measurements
WHERE timestamp_utc < %(cutoff)s
ORDER BY 1
