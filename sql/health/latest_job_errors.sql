-- The latest error of each background job. timescaledb_information.job_errors exists since
-- TimescaleDB 2.9 (the caller checks); it shows a job's errors to the job's owner and to members
-- of the database owner's role only.
SELECT DISTINCT ON (job_id)
       job_id,
       CASE WHEN isfinite(start_time) THEN start_time END AS start_time,
       sqlerrcode,
       err_message
FROM timescaledb_information.job_errors
ORDER BY job_id, start_time DESC NULLS LAST;
