-- About to PUT the day's archive object with these rows: recorded first, so a crash after the PUT
-- leaves an object the next run recognises as its own.
INSERT INTO measurement_archive_writes (day, object_key, row_count, checksum)
VALUES (%(day)s, %(object_key)s, %(row_count)s, %(checksum)s)
ON CONFLICT (day) DO UPDATE
SET object_key = EXCLUDED.object_key,
    row_count = EXCLUDED.row_count,
    checksum = EXCLUDED.checksum,
    started_at = now()
