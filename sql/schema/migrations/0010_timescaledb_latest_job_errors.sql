-- TimescaleDB's timescaledb_information.job_errors shows a job's errors only to the job's owner and
-- to members of the database owner's role. The pipeline and reader roles are neither, so the
-- job-health check (heimdall_pipeline.timescaledb_health) could tell that a job failed but not why.
-- This function reads the view as its owner (the migrating role: it owns the jobs its migrations
-- created and the database) and returns only the latest error of each job. plpgsql, so it can be
-- created where the view does not exist (TimescaleDB < 2.9); it then returns no rows.
CREATE FUNCTION timescaledb_latest_job_errors()
RETURNS TABLE (job_id INTEGER, start_time TIMESTAMPTZ, sqlerrcode TEXT, err_message TEXT)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
BEGIN
    IF to_regclass('timescaledb_information.job_errors') IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
        SELECT DISTINCT ON (e.job_id)
               e.job_id,
               CASE WHEN isfinite(e.start_time) THEN e.start_time END,
               e.sqlerrcode,
               e.err_message
        FROM timescaledb_information.job_errors AS e
        ORDER BY e.job_id, e.start_time DESC NULLS LAST;
END
$$;
