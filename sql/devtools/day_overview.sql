-- What a UTC day holds after ingest: measurement rows and hourly groups with time in [start, end).
SELECT (SELECT count(*) FROM measurements WHERE timestamp_utc >= %(start)s AND timestamp_utc < %(end)s) AS measurements,
       (SELECT count(*) FROM measurements_hourly WHERE bucket >= %(start)s AND bucket < %(end)s) AS hourly_groups,
       (SELECT count(DISTINCT websdr_id) FROM measurements
         WHERE timestamp_utc >= %(start)s AND timestamp_utc < %(end)s) AS receivers
