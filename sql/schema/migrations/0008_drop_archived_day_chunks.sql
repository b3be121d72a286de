-- Retention drops a day's chunks with drop_chunks, which TimescaleDB allows only to the owner of
-- the hypertable. The pipeline role is not the owner and must never be able to DROP, so this
-- function runs as its owner (SECURITY DEFINER, fixed search_path) and drops only a day that has
-- an archive record holding at least as many rows as the day still has. The retention job calls it
-- after verifying the archive's contents row by row (heimdall_pipeline.lifecycle.drop_day).
CREATE FUNCTION drop_archived_day_chunks(target_day DATE) RETURNS INTEGER
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    day_start TIMESTAMPTZ := target_day::timestamp AT TIME ZONE 'UTC';
    day_end TIMESTAMPTZ := (target_day + 1)::timestamp AT TIME ZONE 'UTC';
    archived_rows BIGINT;
    rows_in_day BIGINT;
    chunks_dropped INTEGER;
BEGIN
    SELECT a.row_count INTO archived_rows FROM public.measurement_archives a WHERE a.day = target_day;
    IF archived_rows IS NULL THEN
        RAISE EXCEPTION 'refusing to drop %: the day has no archive record', target_day;
    END IF;
    SELECT count(*) INTO rows_in_day
    FROM public.measurements m WHERE m.timestamp_utc >= day_start AND m.timestamp_utc < day_end;
    IF rows_in_day > archived_rows THEN
        RAISE EXCEPTION 'refusing to drop %: % rows in the day, its archive records %', target_day, rows_in_day, archived_rows;
    END IF;
    -- Chunks wholly inside the day; the caller deletes the rows of a chunk only partly inside it.
    SELECT count(*) INTO chunks_dropped
    FROM public.drop_chunks('public.measurements', older_than => day_end, newer_than => day_start);
    RETURN chunks_dropped;
END
$$;

REVOKE ALL ON FUNCTION drop_archived_day_chunks(DATE) FROM PUBLIC;
