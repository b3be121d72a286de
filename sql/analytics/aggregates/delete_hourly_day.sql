DELETE FROM measurements_hourly WHERE bucket >= %(start)s AND bucket < %(end)s
