-- The day's archive object as written and verified; dropped_at is left as it is.
INSERT INTO measurement_archives (day, object_key, row_count, checksum)
VALUES (%(day)s, %(object_key)s, %(row_count)s, %(checksum)s)
ON CONFLICT (day) DO UPDATE
SET object_key = EXCLUDED.object_key,
    row_count = EXCLUDED.row_count,
    checksum = EXCLUDED.checksum,
    archived_at = now()
