-- The archive object is recorded in measurement_archives: the write is finished.
DELETE FROM measurement_archive_writes WHERE day = %(day)s
