-- Backends of this database holding the session-level advisory lock on a name (a bigint key is
-- split into classid = high 32 bits, objid = low 32 bits, objsubid = 1).
SELECT pid
FROM pg_locks
WHERE locktype = 'advisory' AND granted AND objsubid = 1
  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND classid::bigint = (hashtextextended(%(name)s, 0) >> 32) & 4294967295
  AND objid::bigint = hashtextextended(%(name)s, 0) & 4294967295
ORDER BY pid
