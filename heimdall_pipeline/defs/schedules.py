"""`daily_ingest_schedule`: at 00:15 UTC, (re)materialize yesterday's partition of the ingest chain.

build_schedule_from_partitioned_job would target the *last* partition at tick time, and with
end_offset=1 that is today (still filling up), so the schedule names yesterday itself. The run
is the safety net under the sensor: runs that failed and objects they left pending, and anything
uploaded yesterday while the sensor was stopped.
"""

from datetime import timedelta, timezone

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, schedule

from heimdall_pipeline.defs.ingest_assets import ingest_job


@schedule(
    name="daily_ingest_schedule",
    job=ingest_job,
    cron_schedule="15 0 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="00:15 UTC: list, load and aggregate yesterday's uploads again, catching anything missed.",
)
def daily_ingest_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    yesterday = (context.scheduled_execution_time.astimezone(timezone.utc) - timedelta(days=1)).date()
    return RunRequest(partition_key=yesterday.isoformat(), run_key=f"daily:{yesterday.isoformat()}")


INGEST_SCHEDULES = [daily_ingest_schedule]
