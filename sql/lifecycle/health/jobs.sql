-- Every TimescaleDB background job with its latest statistics. LEFT JOIN: in 2.19 job_stats has no
-- row for a job that never ran. Infinite times (a job that never succeeded has -infinity) become NULL.
WITH measurements_table AS (
    SELECT n.nspname AS schema_name, c.relname AS table_name
    FROM pg_class AS c
    JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.oid = 'measurements'::regclass
),
jobs AS (
    SELECT j.*,
           coalesce((j.hypertable_schema, j.hypertable_name) = (m.schema_name, m.table_name), FALSE) AS on_measurements
    FROM timescaledb_information.jobs AS j
    CROSS JOIN measurements_table AS m
)
SELECT j.job_id,
       j.application_name,
       j.proc_name,
       j.hypertable_name,
       j.on_measurements,
       j.schedule_interval,
       j.scheduled,
       CASE WHEN j.on_measurements AND j.proc_name = 'policy_compression'
            THEN (j.config->>'compress_after')::interval END AS compress_after,
       CASE WHEN isfinite(s.last_run_started_at) THEN s.last_run_started_at END AS last_run_started_at,
       CASE WHEN isfinite(s.last_successful_finish) THEN s.last_successful_finish END AS last_successful_finish,
       s.last_run_status,
       s.job_status,
       CASE WHEN isfinite(coalesce(s.next_start, j.next_start)) THEN coalesce(s.next_start, j.next_start) END AS next_start,
       coalesce(s.total_runs, 0) AS total_runs,
       coalesce(s.total_failures, 0) AS total_failures
FROM jobs AS j
LEFT JOIN timescaledb_information.job_stats AS s ON s.job_id = j.job_id
ORDER BY j.job_id;
