-- The latest error of each background job, through the owner's SECURITY DEFINER function
-- (migration 0010): timescaledb_information.job_errors itself shows a job's errors to the job's
-- owner and the database owner only.
SELECT job_id, start_time, sqlerrcode, err_message FROM timescaledb_latest_job_errors();
