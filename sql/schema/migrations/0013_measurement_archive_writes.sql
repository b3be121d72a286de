-- An archive object being written: recorded before the PUT, removed when measurement_archives
-- records the object. Retention trusts an archive object only if it matches measurement_archives or,
-- after a crash between the PUT and the record, this intent; anything else in the archive prefix
-- (a planted or replaced file) is refused.
CREATE TABLE measurement_archive_writes (
    day DATE PRIMARY KEY,
    object_key TEXT NOT NULL,
    row_count BIGINT NOT NULL CHECK (row_count >= 0),
    checksum TEXT NOT NULL,
    started_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
