-- The archive write started for a day and not yet recorded (a crash between PUT and record).
SELECT object_key, row_count, checksum
FROM measurement_archive_writes
WHERE day = %(day)s
