"""`daily_ingest_schedule`: at 00:15 UTC, (re)materialize yesterday's partition of the ingest chain,
and every older upload day that still has pending objects.

build_schedule_from_partitioned_job would target the *last* partition at tick time, and with
end_offset=1 that is today (still filling up), so the schedule names yesterday itself. The run
is the safety net under the sensor: runs that failed and objects they left pending, and anything
uploaded yesterday while the sensor was stopped. Pending objects of older days are retried by the
sensor every 15 minutes; the schedule retries them too, so they are not stuck while the sensor is off.
"""

from datetime import UTC, datetime, timedelta

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, schedule

from heimdall_pipeline.defs.ingest.assets import ingest_job
from heimdall_pipeline.defs.partitions import daily_partitions
from heimdall_pipeline.defs.resources import TimescaleResource
from heimdall_pipeline.ingest.discovery import pending_retries

# Older days with pending objects retried per tick, oldest first; the next day's tick takes the next ones.
MAX_PENDING_DAYS_PER_TICK = 10


@schedule(
    name="daily_ingest_schedule",
    job=ingest_job,
    cron_schedule="15 0 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description=(
        "00:15 UTC: list, load and aggregate yesterday's uploads again, catching anything missed, and "
        f"every older upload day that still has pending objects (at most {MAX_PENDING_DAYS_PER_TICK})."
    ),
)
def daily_ingest_schedule(context: ScheduleEvaluationContext, timescale: TimescaleResource) -> list[RunRequest]:
    now = context.scheduled_execution_time.astimezone(UTC)
    yesterday = (now - timedelta(days=1)).date()
    requests = [RunRequest(partition_key=yesterday.isoformat(), run_key=f"daily:{yesterday.isoformat()}")]
    with timescale.connection() as conn:
        stale = pending_retries(
            conn,
            now=datetime.now(UTC),  # whatever is pending as the tick runs
            first_day=daily_partitions.start.date(),
            last_day=yesterday - timedelta(days=1),
            retry_after=timedelta(0),
            max_days=MAX_PENDING_DAYS_PER_TICK,
        )
    requests += [
        RunRequest(
            partition_key=retry.day.isoformat(),
            run_key=f"daily:{now.date().isoformat()}:pending:{retry.day.isoformat()}",
            tags={"heimdall/retry_pending": str(retry.objects)},
        )
        for retry in stale
    ]
    return requests


INGEST_SCHEDULES = [daily_ingest_schedule]
