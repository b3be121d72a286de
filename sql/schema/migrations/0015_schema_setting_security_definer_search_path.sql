-- HEIMDALL_DB_SCHEMA puts our tables in a schema of their own, beside another application's (e.g.
-- Heimdall's public.measurements). 0008 named public explicitly (public.measurements,
-- public.measurement_archives, search_path pinned to public): in another schema it would count, and
-- drop chunks of, the wrong table. Redefined with bare names and the search_path heimdall-migrate
-- gives every migration (<our schema>, public, pg_temp; public for TimescaleDB's drop_chunks),
-- captured by SET search_path FROM CURRENT: fixed at creation, pg_temp last, as SECURITY DEFINER
-- needs. The body is 0008's otherwise. (0010 names only timescaledb_information and pg_catalog.)
CREATE OR REPLACE FUNCTION drop_archived_day_chunks(target_day DATE) RETURNS INTEGER
LANGUAGE plpgsql SECURITY DEFINER
SET search_path FROM CURRENT
AS $$
DECLARE
    day_start TIMESTAMPTZ := target_day::timestamp AT TIME ZONE 'UTC';
    day_end TIMESTAMPTZ := (target_day + 1)::timestamp AT TIME ZONE 'UTC';
    archived_rows BIGINT;
    rows_in_day BIGINT;
    chunks_dropped INTEGER;
BEGIN
    SELECT a.row_count INTO archived_rows FROM measurement_archives a WHERE a.day = target_day;
    IF archived_rows IS NULL THEN
        RAISE EXCEPTION 'refusing to drop %: the day has no archive record', target_day;
    END IF;
    SELECT count(*) INTO rows_in_day
    FROM measurements m WHERE m.timestamp_utc >= day_start AND m.timestamp_utc < day_end;
    IF rows_in_day > archived_rows THEN
        RAISE EXCEPTION 'refusing to drop %: % rows in the day, its archive records %', target_day, rows_in_day, archived_rows;
    END IF;
    -- Chunks wholly inside the day; the caller deletes the rows of a chunk only partly inside it.
    SELECT count(*) INTO chunks_dropped
    FROM drop_chunks('measurements'::regclass, older_than => day_end, newer_than => day_start);
    RETURN chunks_dropped;
END
$$;

REVOKE ALL ON FUNCTION drop_archived_day_chunks(DATE) FROM PUBLIC;
