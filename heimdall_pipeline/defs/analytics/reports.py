"""Reports (five assets, `timescaledb_health`, `reports_job`, `reports_schedule`). Each calls
heimdall_pipeline.analytics.reports or heimdall_pipeline.lifecycle.health; nothing here computes
anything itself. Reports read through the `reader` resource (the read-only role)."""

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetsDefinition,
    AssetSelection,
    Config,
    DefaultScheduleStatus,
    MaterializeResult,
    MetadataValue,
    ScheduleDefinition,
    asset,
    define_asset_job,
)
from pydantic import Field

from heimdall_pipeline.defs.resources import HeimdallBuckets, HeimdallS3Resource, TimescaleResource
from heimdall_pipeline.defs.run_config import utc_or_now
from heimdall_pipeline.lifecycle.health import read_health

MEASUREMENTS = AssetKey("measurements")
# The SNR reports read iq_metrics too (snr_source "recomputed"): the lineage shows that edge.
IQ_METRICS = AssetKey("iq_metrics")
REPORTS_GROUP = "reports"


class ReportConfig(Config):
    window_hours: int = Field(default=7 * 24, description="length of the report window in hours (whole UTC hours)")
    end: str | None = Field(default=None, description="ISO 8601 end of the window, e.g. 2025-03-10T12:00:00Z (default: now)")

    def end_time(self) -> datetime:
        return utc_or_now(self.end)


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
    expires = datetime.now(UTC) + timedelta(seconds=REPORT_LINK_SECONDS)
    snr_metadata: dict[str, Any] = {}
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


def report_asset(name: str, config_type: type[ReportConfig], description: str) -> AssetsDefinition:
    """The asset of report `name` (analytics.reports.REPORTS), configured by `config_type`. An SNR
    report (SnrReportConfig) shows recomputed SNR from iq_metrics too, so it depends on it as well."""
    deps = [MEASUREMENTS, IQ_METRICS] if issubclass(config_type, SnrReportConfig) else [MEASUREMENTS]

    @asset(name=name, group_name=REPORTS_GROUP, deps=deps, description=description)
    def report(
        config: config_type,  # type: ignore[valid-type]  # the factory's class: Dagster reads it when it builds the asset
        reader: TimescaleResource,
        s3: HeimdallS3Resource,
        buckets: HeimdallBuckets,
    ) -> MaterializeResult:
        return _materialize_report(name, config, reader, s3, buckets)

    return report


snr_trends = report_asset(
    "snr_trends",
    SnrReportConfig,
    "Average and p95 SNR per receiver per hour (from raw rows: exact p95 across frequencies).",
)
# frequency_drift and coverage read raw rows, not measurements_hourly: an hour's aggregate per id
# would mix the two stations of an hour in which Heimdall renumbered its receivers.
frequency_drift = report_asset(
    "frequency_drift",
    ReportConfig,
    "Hourly frequency offset per receiver and frequency, and the fitted drift rate (Hz/hour).",
)
receiver_performance = report_asset(
    "receiver_performance",
    SnrReportConfig,
    "Per receiver: measurements, SNR avg/min/max, average offset, share of sessions heard.",
)
coverage = report_asset(
    "coverage",
    ReportConfig,
    "Per receiver: uptime (hours with data), sessions, sessions every active receiver heard, counts per band; heat map.",
)
recent_measurements = report_asset(
    "recent_measurements",
    RecentMeasurementsConfig,
    "The last 24 hours per receiver: counts, last heard, latest and average SNR.",
)


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


ANALYTICS_ASSETS = [*REPORT_ASSETS, timescaledb_health]
ANALYTICS_JOBS = [reports_job]
ANALYTICS_SCHEDULES = [reports_schedule]
