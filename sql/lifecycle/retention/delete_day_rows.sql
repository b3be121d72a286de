DELETE FROM measurements WHERE timestamp_utc >= %(start)s AND timestamp_utc < %(end)s
