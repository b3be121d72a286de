"""Reports (five assets, `reports_job`, `reports_schedule`) and the lifecycle jobs
(`retention_job` + `retention_schedule`, `restore_job`). Each calls heimdall_pipeline.analytics.reports /
heimdall_pipeline.lifecycle.retention; nothing here computes anything itself. Reports read through the
`reader` resource (the read-only role); the lifecycle jobs write through `timescale`."""

from datetime import date, datetime, timedelta, timezone
from typing import Literal, Optional

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetSelection,
    Config,
    DefaultScheduleStatus,
    MaterializeResult,
    MetadataValue,
    OpExecutionContext,
    ScheduleDefinition,
    asset,
    define_asset_job,
    job,
    op,
)
from pydantic import Field

from heimdall_pipeline.lifecycle import retention as lifecycle
from heimdall_pipeline.defs.resources import HeimdallBuckets, HeimdallS3Resource, TimescaleResource
from heimdall_pipeline.lifecycle.health import read_health

MEASUREMENTS = AssetKey("measurements")
REPORTS_GROUP = "reports"


def _utc_or_now(text: Optional[str]) -> datetime:
    """An ISO 8601 time from config (naive means UTC), or now."""
    if not text:
        return datetime.now(timezone.utc)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


class ReportConfig(Config):
    window_hours: int = Field(default=7 * 24, description="length of the report window in hours (whole UTC hours)")
    end: Optional[str] = Field(
        default=None, description="ISO 8601 end of the window, e.g. 2025-03-10T12:00:00Z (default: now)"
    )

    def end_time(self) -> datetime:
        return _utc_or_now(self.end)


class SnrReportConfig(ReportConfig):
    snr_source: Literal["recomputed", "stored"] = Field(
        default="recomputed",
        description=(
            "which SNR to show: 'recomputed' from the IQ recordings (iq_metrics) where a recording was computed, "
            "Heimdall's stored snr_db elsewhere; 'stored': Heimdall's snr_db everywhere"
        ),
    )


class RecentMeasurementsConfig(SnrReportConfig):
    window_hours: int = Field(default=24, description="length of the report window in hours (whole UTC hours)")


def _materialize_report(
    name: str,
    config: ReportConfig,
    reader: TimescaleResource,
    s3: HeimdallS3Resource,
    buckets: HeimdallBuckets,
) -> MaterializeResult:
    # Imported here: matplotlib and pandas add 0.5–1 s to every process that loads the definitions,
    # every ingest run's worker included, and only report runs need them.
    from heimdall_pipeline.analytics.reports import REPORT_LINK_SECONDS, build_report, presigned_link, publish

    client = s3.get_client()
    bucket = buckets.reports_bucket
    snr_source = getattr(config, "snr_source", "recomputed")
    with reader.connection() as conn:
        report = build_report(conn, name, config.end_time(), config.window_hours, snr_source)
    publish(client, bucket, report)
    expires = datetime.now(timezone.utc) + timedelta(seconds=REPORT_LINK_SECONDS)
    snr_metadata = {}
    if report.snr_source is not None:
        snr_metadata = {
            "snr source": MetadataValue.text(report.snr_source.choice),
            "snr shown": MetadataValue.text(report.snr_source.describe()),
            "snr recomputed rows": report.snr_source.recomputed,
        }
    return MaterializeResult(
        metadata={
            **snr_metadata,
            "dagster/row_count": len(report.rows),
            "window": f"{report.window.start:%Y-%m-%d %H:%M} – {report.window.end:%Y-%m-%d %H:%M} UTC",
            "table": MetadataValue.md(report.markdown()),
            "plot": MetadataValue.md(report.png_markdown()),
            "csv": MetadataValue.path(f"s3://{bucket}/{report.csv_key}"),
            "png": MetadataValue.path(f"s3://{bucket}/{report.png_key}"),
            "png_url": MetadataValue.url(presigned_link(client, bucket, report.png_key)),
            "csv_url": MetadataValue.url(presigned_link(client, bucket, report.csv_key)),
            "links expire": MetadataValue.text(f"{expires:%Y-%m-%d %H:%M} UTC (presigned, 7 days)"),
        }
    )


@asset(group_name=REPORTS_GROUP, deps=[MEASUREMENTS])
def snr_trends(
    config: SnrReportConfig, reader: TimescaleResource, s3: HeimdallS3Resource, buckets: HeimdallBuckets
) -> MaterializeResult:
    """Average and p95 SNR per receiver per hour (from raw rows: exact p95 across frequencies)."""
    return _materialize_report("snr_trends", config, reader, s3, buckets)


# frequency_drift and coverage read raw rows, not measurements_hourly: an hour's aggregate per id
# would mix the two stations of an hour in which Heimdall renumbered its receivers.
@asset(group_name=REPORTS_GROUP, deps=[MEASUREMENTS])
def frequency_drift(
    config: ReportConfig, reader: TimescaleResource, s3: HeimdallS3Resource, buckets: HeimdallBuckets
) -> MaterializeResult:
    """Hourly frequency offset per receiver and frequency, and the fitted drift rate (Hz/hour)."""
    return _materialize_report("frequency_drift", config, reader, s3, buckets)


@asset(group_name=REPORTS_GROUP, deps=[MEASUREMENTS])
def receiver_performance(
    config: SnrReportConfig, reader: TimescaleResource, s3: HeimdallS3Resource, buckets: HeimdallBuckets
) -> MaterializeResult:
    """Per receiver: measurements, SNR avg/min/max, average offset, share of sessions heard."""
    return _materialize_report("receiver_performance", config, reader, s3, buckets)


@asset(group_name=REPORTS_GROUP, deps=[MEASUREMENTS])
def coverage(
    config: ReportConfig, reader: TimescaleResource, s3: HeimdallS3Resource, buckets: HeimdallBuckets
) -> MaterializeResult:
    """Per receiver: uptime (hours with data), sessions, sessions every active receiver heard, counts per band; heat map."""
    return _materialize_report("coverage", config, reader, s3, buckets)


@asset(group_name=REPORTS_GROUP, deps=[MEASUREMENTS])
def recent_measurements(
    config: RecentMeasurementsConfig, reader: TimescaleResource, s3: HeimdallS3Resource, buckets: HeimdallBuckets
) -> MaterializeResult:
    """The last 24 hours per receiver: counts, last heard, latest and average SNR."""
    return _materialize_report("recent_measurements", config, reader, s3, buckets)


TIMESCALEDB_HEALTH_CHECK = "background_jobs_and_compression_healthy"


@asset(
    group_name=REPORTS_GROUP,
    deps=[MEASUREMENTS],
    check_specs=[
        AssetCheckSpec(
            TIMESCALEDB_HEALTH_CHECK,
            asset="timescaledb_health",
            description=(
                "WARN when a TimescaleDB background job failed its last run (with the error text), is paused "
                "or has not succeeded within its schedule, or chunks of measurements past the compression "
                "horizon are still uncompressed. On the Apache edition: no policies, passes."
            ),
        )
    ],
)
def timescaledb_health(reader: TimescaleResource) -> MaterializeResult:
    """TimescaleDB's background jobs (jobs, job_stats, job_errors) and the compression state of
    measurements' chunks, measured: sizes before and after compression, chunks compressed or not.
    Reads only, so as the read-only role."""
    with reader.connection() as conn:
        health = read_health(conn)
    summary = health.summary()
    return MaterializeResult(
        metadata={
            **{name: value for name, value in health.metadata().items() if value is not None},
            "summary": MetadataValue.text(summary),
            "jobs": MetadataValue.md(health.jobs_markdown()),
        },
        check_results=[
            AssetCheckResult(
                check_name=TIMESCALEDB_HEALTH_CHECK,
                passed=health.passed,
                severity=AssetCheckSeverity.WARN,
                description=summary,
                metadata={"problems": MetadataValue.md("\n".join(f"- {p}" for p in health.problems) or "none")},
            )
        ],
    )


REPORT_ASSETS = [snr_trends, frequency_drift, receiver_performance, coverage, recent_measurements]

reports_job = define_asset_job(
    "reports_job",
    selection=AssetSelection.assets(*REPORT_ASSETS, timescaledb_health),
    description=(
        "Refresh the five reports (CSV + PNG to s3://<reports bucket>/reports/<report>/<date>/) and "
        "timescaledb_health (background jobs and compression, with its check)."
    ),
)

reports_schedule = ScheduleDefinition(
    name="reports_schedule",
    job=reports_job,
    cron_schedule="30 * * * *",
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Every hour at :30 UTC: the five reports over the windows ending now.",
)


# --- lifecycle ------------------------------------------------------------------------------


class RetentionConfig(Config):
    retention_days: int = Field(default=lifecycle.DEFAULT_RETENTION_DAYS, description="days of raw rows to keep")
    as_of: Optional[str] = Field(default=None, description="ISO 8601 date-time to count back from (default: now)")


class RestoreConfig(Config):
    day: str = Field(description="UTC day to restore, YYYY-MM-DD")


@op
def find_expired_days(context: OpExecutionContext, config: RetentionConfig, timescale: TimescaleResource) -> list:
    """UTC days with rows older than the retention window."""
    as_of = _utc_or_now(config.as_of)
    with timescale.connection() as conn:
        days = lifecycle.expired_days(conn, as_of, config.retention_days)
    context.log.info(f"{len(days)} day(s) older than {config.retention_days} days: {', '.join(map(str, days)) or 'none'}")
    return [day.isoformat() for day in days]


@op
def archive_verify_drop(
    context: OpExecutionContext,
    days: list,
    timescale: TimescaleResource,
    s3: HeimdallS3Resource,
    buckets: HeimdallBuckets,
) -> list:
    """Per day: archive to Parquet, verify the read-back, make sure measurements_hourly holds the
    day, then drop its chunks. Stops at the first failure; finished days stay finished."""
    client = s3.get_client()
    bucket = buckets.archive_bucket
    retired = []
    with timescale.connection() as conn:
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
    timescale: TimescaleResource,
    s3: HeimdallS3Resource,
    buckets: HeimdallBuckets,
) -> int:
    """Load the day's Parquet archive back into measurements (rows already there are kept)."""
    day = date.fromisoformat(config.day)
    with timescale.connection() as conn:
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


ANALYTICS_ASSETS = [*REPORT_ASSETS, timescaledb_health]
ANALYTICS_ASSET_CHECKS: list = []
ANALYTICS_JOBS = [reports_job, retention_job, restore_job]
ANALYTICS_SCHEDULES = [reports_schedule, retention_schedule]
