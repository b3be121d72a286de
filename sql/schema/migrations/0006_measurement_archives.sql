-- One row per UTC day whose measurements were archived to Parquet by the retention job.
-- dropped_at NULL: the rows are (also) still in measurements; set: only the archive holds them.
-- A re-run reads this to re-verify instead of re-archiving, and to finish a drop a crash cut short.
CREATE TABLE measurement_archives (
    day DATE PRIMARY KEY,
    object_key TEXT NOT NULL,
    row_count BIGINT NOT NULL CHECK (row_count >= 0),
    checksum TEXT NOT NULL,
    archived_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    dropped_at TIMESTAMPTZ
);
