-- Takes the session-level lock if it is free, without waiting: true when taken.
SELECT pg_try_advisory_lock(hashtextextended(%(name)s, 0))
