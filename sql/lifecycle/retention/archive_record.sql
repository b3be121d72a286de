SELECT day, object_key, row_count, checksum, archived_at, dropped_at
FROM measurement_archives
WHERE day = %(day)s
