-- Serialises refreshes of the same day (two runs would otherwise both insert the day's groups).
SELECT pg_advisory_xact_lock(hashtext('measurements_hourly'), %(day_number)s)
