from datetime import datetime, timezone

from dagster import DefaultScheduleStatus, build_schedule_context

from heimdall_pipeline.defs.schedules import daily_ingest_schedule


def test_daily_schedule_materializes_yesterday_not_today():
    context = build_schedule_context(scheduled_execution_time=datetime(2025, 6, 11, 0, 15, tzinfo=timezone.utc))
    request = daily_ingest_schedule(context)
    assert request.partition_key == "2025-06-10"
    assert request.run_key == "daily:2025-06-10"


def test_daily_schedule_crosses_month_and_year_boundaries():
    context = build_schedule_context(scheduled_execution_time=datetime(2026, 1, 1, 0, 15, tzinfo=timezone.utc))
    assert daily_ingest_schedule(context).partition_key == "2025-12-31"


def test_daily_schedule_runs_after_midnight_utc_and_starts_running():
    assert daily_ingest_schedule.cron_schedule == "15 0 * * *"
    assert daily_ingest_schedule.execution_timezone == "UTC"
    assert daily_ingest_schedule.default_status == DefaultScheduleStatus.RUNNING
    assert daily_ingest_schedule.job_name == "ingest_job"
