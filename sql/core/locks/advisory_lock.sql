-- Serialises work on one upload day (or one hourly day) across concurrent runs; held by the session.
SELECT pg_advisory_lock(hashtextextended(%(name)s, 0))
