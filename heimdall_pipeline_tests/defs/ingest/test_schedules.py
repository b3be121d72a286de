from datetime import UTC, datetime

from dagster import DefaultScheduleStatus, build_schedule_context

from heimdall_pipeline.defs.ingest.schedules import daily_ingest_schedule


def schedule_context(resources, at: datetime):
    return build_schedule_context(scheduled_execution_time=at, resources={"timescale": resources["timescale"]})


def test_daily_schedule_materializes_yesterday_not_today(resources):
    requests = daily_ingest_schedule(schedule_context(resources, datetime(2025, 6, 11, 0, 15, tzinfo=UTC)))
    assert [(r.partition_key, r.run_key) for r in requests] == [("2025-06-10", "daily:2025-06-10")]


def test_daily_schedule_crosses_month_and_year_boundaries(resources):
    requests = daily_ingest_schedule(schedule_context(resources, datetime(2026, 1, 1, 0, 15, tzinfo=UTC)))
    assert requests[0].partition_key == "2025-12-31"


def test_daily_schedule_runs_after_midnight_utc_and_starts_running():
    assert daily_ingest_schedule.cron_schedule == "15 0 * * *"
    assert daily_ingest_schedule.execution_timezone == "UTC"
    assert daily_ingest_schedule.default_status == DefaultScheduleStatus.RUNNING
    assert daily_ingest_schedule.job_name == "ingest_job"
