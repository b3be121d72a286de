"""The lifecycle jobs: `retention_job` + `retention_schedule` (archive, verify, drop) and
`restore_job`. Each op calls heimdall_pipeline.lifecycle.retention; they write through `archiver`,
the role that alone writes archive records and drops days."""

from datetime import date

from dagster import (
    Config,
    DefaultScheduleStatus,
    MetadataValue,
    OpExecutionContext,
    ScheduleDefinition,
    job,
    op,
)
from pydantic import Field

from heimdall_pipeline.defs.resources import HeimdallBuckets, HeimdallS3Resource, TimescaleResource
from heimdall_pipeline.defs.run_config import utc_or_now
from heimdall_pipeline.lifecycle import retention as lifecycle
from heimdall_pipeline.lifecycle.health import read_health


class RetentionConfig(Config):
    retention_days: int = Field(default=lifecycle.DEFAULT_RETENTION_DAYS, description="days of raw rows to keep")
    as_of: str | None = Field(default=None, description="ISO 8601 date-time to count back from (default: now)")


class RestoreConfig(Config):
    day: str = Field(description="UTC day to restore, YYYY-MM-DD")


@op
def find_expired_days(context: OpExecutionContext, config: RetentionConfig, timescale: TimescaleResource) -> list:
    """UTC days with rows older than the retention window."""
    as_of = utc_or_now(config.as_of)
    with timescale.connection() as conn:
        days = lifecycle.expired_days(conn, as_of, config.retention_days)
    context.log.info(f"{len(days)} day(s) older than {config.retention_days} days: {', '.join(map(str, days)) or 'none'}")
    return [day.isoformat() for day in days]


@op
def archive_verify_drop(
    context: OpExecutionContext,
    days: list,
    archiver: TimescaleResource,
    s3: HeimdallS3Resource,
    buckets: HeimdallBuckets,
) -> list:
    """Per day: archive to Parquet, verify the read-back, make sure measurements_hourly holds the
    day, then drop its chunks. Stops at the first failure; finished days stay finished."""
    client = s3.get_client()
    bucket = buckets.archive_bucket
    retired = []
    with archiver.connection() as conn:
        conn.autocommit = True  # one transaction per step, never one for the whole run
        for day in days:
            result = lifecycle.retire_day(conn, client, bucket, date.fromisoformat(day))
            context.log.info(
                f"{day}: {result.archive.row_count} rows in s3://{bucket}/{result.archive.object_key} "
                f"({'written' if result.archive.written else 'already archived'}, verified); dropped "
                f"{result.drop.rows_dropped} rows in {result.drop.chunks_dropped} chunk(s)"
            )
            retired.append(result)
        health = read_health(conn)  # measured after the drops, not assumed from the policy
    context.add_output_metadata(
        {
            "days_retired": len(retired),
            "rows_dropped": sum(r.drop.rows_dropped for r in retired),
            "archive_bucket": bucket,
            "timescaledb_edition": health.edition,
            "compression": health.compression_note(),
            "chunks compressed": len(health.compressed_chunks),
            "chunks uncompressed": len(health.uncompressed_chunks),
            "days": MetadataValue.md(_retired_table(retired)),
        }
    )
    return [r.day.isoformat() for r in retired]


def _retired_table(retired: list) -> str:
    if not retired:
        return "_no day older than the retention window_"
    lines = [
        "| day | archived rows | archive | rows dropped | chunks dropped | hourly refreshed | restored first |",
        "|---|---:|---|---:|---:|---|---:|",
    ]
    for r in retired:
        lines.append(
            f"| {r.day} | {r.archive.row_count} | `{r.archive.object_key}` "
            f"({'written' if r.archive.written else 'kept'}) | {r.drop.rows_dropped} | {r.drop.chunks_dropped} "
            f"| {'yes' if r.drop.hourly_refreshed else 'no'} | {r.restored_first} |"
        )
    return "\n".join(lines)


@job(
    description=(
        "Retention: each UTC day older than the window (default 30 days) is archived to "
        "s3://<archive bucket>/archive/measurements/date=YYYY-MM-DD/measurements.parquet, verified, "
        "its hourly aggregates ensured, and only then its chunks dropped. Its metadata reports the measured "
        "compression state (Apache edition: no compression; Community: a 7-day policy, migrations 0004/0009). "
        "Retention stays with this job, never add_retention_policy, so no day is dropped unarchived."
    )
)
def retention_job():
    archive_verify_drop(find_expired_days())


retention_schedule = ScheduleDefinition(
    name="retention_schedule",
    job=retention_job,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.STOPPED,
    description="02:30 UTC daily: archive, verify and drop days older than 30 days. Off until turned on.",
)


@op
def restore_archived_day(
    context: OpExecutionContext,
    config: RestoreConfig,
    archiver: TimescaleResource,
    s3: HeimdallS3Resource,
    buckets: HeimdallBuckets,
) -> int:
    """Load the day's Parquet archive back into measurements (rows already there are kept)."""
    day = date.fromisoformat(config.day)
    with archiver.connection() as conn:
        conn.autocommit = True
        archived, result = lifecycle.restore_day(conn, s3.get_client(), buckets.archive_bucket, day)
    context.log.info(f"{day}: {archived} archived rows, {result.inserted} restored, {result.duplicate} already present")
    context.add_output_metadata(
        {
            "archived_rows": archived,
            "restored": result.inserted,
            "already_present": result.duplicate,
            "archive": MetadataValue.path(f"s3://{buckets.archive_bucket}/{lifecycle.archive_key(day)}"),
        }
    )
    return result.inserted


@job(
    description=(
        "Restore one archived UTC day (config: day) from Parquet into measurements; idempotent. Only an "
        "archive that matches its record in measurement_archives (row count, checksum) is restored. "
        "If the day is still older than the retention window, the next retention run drops it again."
    )
)
def restore_job():
    restore_archived_day()


LIFECYCLE_JOBS = [retention_job, restore_job]
LIFECYCLE_SCHEDULES = [retention_schedule]
