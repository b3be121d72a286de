"""The IQ recordings, per upload day: iq_metrics (recomputed from each recording) and the report
that puts Heimdall's stored metrics beside them, with its asset check. Calls heimdall_pipeline.iq.store
and heimdall_pipeline.iq.reports; nothing here computes anything itself.

Partitioned like measurements (its upload days, the same BackfillPolicy), downstream of it: a day's
iq_metrics covers the measurements its uploads loaded. `iq_job` runs both with the check;
`iq_automation_sensor` (RUNNING by default) materializes them for a day whose measurements were
materialized, through their eager automation conditions.
"""

from datetime import UTC, date, datetime, timedelta

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    AssetSelection,
    AutomationCondition,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
    define_asset_job,
    in_process_executor,
)

from heimdall_pipeline.defs.ingest.assets import INGEST_BACKFILL_POLICY, measurements, window_days
from heimdall_pipeline.defs.ingest.checks import per_upload_day
from heimdall_pipeline.defs.metadata import headline_first, partition_report
from heimdall_pipeline.defs.partitions import daily_partitions
from heimdall_pipeline.defs.resources import HeimdallBuckets, HeimdallS3Resource, IQRecordingsResource, TimescaleResource
from heimdall_pipeline.ingest.uploads import upload_day_bounds
from heimdall_pipeline.iq.store import (
    IQDayResult,
    compute_and_store_upload_day,
    current_version,
    day_computed,
    day_reasons,
    day_summary,
    iter_status,
)

IQ_GROUP = "iq"
COMPARISON_REPORT = "heimdall_vs_recomputed_metrics"  # = iq_reports.COMPARISON_REPORT (not imported: matplotlib)
AGREEMENT_CHECK = "recomputed_metrics_agree_with_heimdall"


def _png_markdown(name: str, png: bytes) -> str:
    import base64

    return f"![{name}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"


def _iq_day_metadata(day: date, result: IQDayResult, summary: dict, reasons: list, plot: bytes) -> dict:
    statuses = dict(iter_status(summary))
    flags = {
        name: sum(row.get(name, 0) for row in summary.values())
        for name in ("no_signal", "samples_count_mismatch", "dc_spike", "clipped")
    }
    status_table = "\n".join(f"| {status} | {count} |" for status, count in statuses.items())
    reason_rows = "\n".join(
        f"| {status} | {code} | {count} | {example.replace('|', '/')[:160]} |" for status, code, count, example in reasons
    )
    return headline_first(
        {
            "upload days": MetadataValue.text(str(day)),
            "algorithm_version": current_version(),
            "recordings": result.recordings,
            "read in this run": result.read,
            "already current": result.already_current,
            **{status: count for status, count in statuses.items()},
            **{f"flag: {name}": count for name, count in flags.items()},
            "GET retries": result.stats.retries,
            "MB read": round(result.stats.bytes / 1e6, 2),
            "recordings/s": round(result.recordings_per_second, 1),
            "peak recordings in flight": result.stats.peak_in_flight,
            "status": MetadataValue.md("| status | recordings |\n|---|---:|\n" + status_table),
            "reasons": MetadataValue.md(
                "| status | reason | recordings | example |\n|---|---|---:|---|\n" + (reason_rows or "| (none) | | 0 | |")
            ),
            "plot": MetadataValue.md(_png_markdown("iq_metrics", plot)),
            # Every measurement of the day's uploads has its row (or is pending): the same on a re-run.
            "dagster/row_count": sum(count for status, count in statuses.items() if status != "pending"),
        },
        ("recordings", "computed", "rejected", "pending"),
    )


@asset(
    partitions_def=daily_partitions,
    backfill_policy=INGEST_BACKFILL_POLICY,
    deps=[measurements],
    group_name=IQ_GROUP,
    kinds={"s3", "timescaledb", "numpy"},
    automation_condition=AutomationCondition.eager(),
    description=(
        "SNR, frequency offset, powers (dBFS), occupied bandwidth and quality flags recomputed from the IQ "
        "recording of every measurement the day's uploads loaded; one iq_metrics row each: computed, or "
        "rejected / missing / failed with a reason. Recordings are read concurrently (iq_recordings.concurrency), "
        "validated before np.load(allow_pickle=False); only rows not current at the algorithm version are read."
    ),
)
def iq_metrics(
    context: AssetExecutionContext,
    timescale: TimescaleResource,
    s3: HeimdallS3Resource,
    buckets: HeimdallBuckets,
    iq_recordings: IQRecordingsResource,
) -> MaterializeResult:
    from heimdall_pipeline.iq.reports import iq_metrics_plot  # matplotlib: only runs that draw load it

    start, end = context.partition_time_window
    client = s3.get_client(min_pool_connections=iq_recordings.concurrency)  # a connection per thread
    per_day = {}
    totals = {"recordings": 0, "read in this run": 0, "computed": 0, "rejected": 0, "missing": 0, "failed": 0}
    with timescale.connection() as conn:
        for day in window_days(start, end):
            day_start, day_end = upload_day_bounds(day)
            result = compute_and_store_upload_day(
                conn,
                client,
                buckets.raw,
                day,
                concurrency=iq_recordings.concurrency,
                max_bytes=iq_recordings.max_recording_bytes,
                log=context.log,
            )
            summary = day_summary(conn, day_start, day_end)
            statuses = dict(iter_status(summary))
            plot = iq_metrics_plot(statuses, day_computed(conn, day_start, day_end), day)
            per_day[day] = _iq_day_metadata(day, result, summary, day_reasons(conn, day_start, day_end), plot)
            context.log.info(
                f"{day}: {result.recordings} recordings, {result.read} read ({result.already_current} already current): "
                + ", ".join(f"{status} {count}" for status, count in result.outcomes.items())
                + f"; {result.recordings_per_second:,.0f} recordings/s, peak {result.stats.peak_in_flight} in flight"
            )
            if result.outcomes["failed"]:
                context.log.warning(
                    f"{day}: {result.outcomes['failed']} recordings could not be fetched after their retries; "
                    "they are 'failed' and the next materialization of the day tries them again"
                )
            totals["recordings"] += result.recordings
            totals["read in this run"] += result.read
            for status in ("computed", "rejected", "missing", "failed"):
                totals[status] += statuses[status]
    return partition_report(context, per_day, totals)


def _comparison_day(conn, client, bucket: str, day: date) -> dict:
    from heimdall_pipeline.analytics.reports import REPORT_LINK_SECONDS, presigned_link, spreadsheet_safe_csv
    from heimdall_pipeline.iq.reports import agreement, comparison_markdown, comparison_plot, comparison_rows, per_receiver

    rows = comparison_rows(conn, *upload_day_bounds(day))
    summary = per_receiver(rows)
    png = comparison_plot(rows, day)
    prefix = f"reports/{COMPARISON_REPORT}/{day.isoformat()}/{COMPARISON_REPORT}"
    csv = spreadsheet_safe_csv(rows, date_format="%Y-%m-%dT%H:%M:%S.%fZ")
    client.put_object(Bucket=bucket, Key=f"{prefix}.csv", Body=csv, ContentType="text/csv")
    client.put_object(Bucket=bucket, Key=f"{prefix}.png", Body=png, ContentType="image/png")
    found = agreement(rows)
    expires = datetime.now(UTC) + timedelta(seconds=REPORT_LINK_SECONDS)
    return {
        "upload days": MetadataValue.text(str(day)),
        "dagster/row_count": len(rows),
        "compared": found.compared,
        "disagreeing": found.disagreeing,
        "agreement": MetadataValue.text(found.describe()),
        "per receiver": MetadataValue.md(comparison_markdown(summary)),
        "plot": MetadataValue.md(_png_markdown(COMPARISON_REPORT, png)),
        "csv": MetadataValue.path(f"s3://{bucket}/{prefix}.csv"),
        "png": MetadataValue.path(f"s3://{bucket}/{prefix}.png"),
        "png_url": MetadataValue.url(presigned_link(client, bucket, f"{prefix}.png")),
        "csv_url": MetadataValue.url(presigned_link(client, bucket, f"{prefix}.csv")),
        "links expire": MetadataValue.text(f"{expires:%Y-%m-%d %H:%M} UTC (presigned, 7 days)"),
    }


@asset(
    partitions_def=daily_partitions,
    backfill_policy=INGEST_BACKFILL_POLICY,
    deps=[iq_metrics],
    group_name=IQ_GROUP,
    kinds={"timescaledb", "s3"},
    automation_condition=AutomationCondition.eager(),
    description=(
        "Heimdall's stored SNR and frequency offset beside the recomputed ones, per receiver, for the day's "
        "computed recordings: scatter plots with the identity line, mean difference (stored − recomputed) and "
        "correlation. CSV + PNG to s3://<reports bucket>/reports/heimdall_vs_recomputed_metrics/<upload day>/."
    ),
)
def heimdall_vs_recomputed_metrics(
    context: AssetExecutionContext, reader: TimescaleResource, s3: HeimdallS3Resource, buckets: HeimdallBuckets
) -> MaterializeResult:
    start, end = context.partition_time_window
    client = s3.get_client()
    per_day = {}
    with reader.connection() as conn:
        for day in window_days(start, end):
            per_day[day] = _comparison_day(conn, client, buckets.reports_bucket, day)
    return partition_report(
        context,
        per_day,
        {name: sum(m[name] for m in per_day.values()) for name in ("compared", "disagreeing")},
    )


@asset_check(
    asset=heimdall_vs_recomputed_metrics,
    partitions_def=daily_partitions,
    description=(
        "WARN when more than 5 % of the day's computed recordings disagree with Heimdall's stored metrics: SNR "
        "apart by more than 3 dB, offset by more than 10 Hz, or no signal where Heimdall stored more than 6 dB. "
        "With counts per kind and per receiver."
    ),
)
def recomputed_metrics_agree_with_heimdall(context: AssetCheckExecutionContext, reader: TimescaleResource) -> AssetCheckResult:
    from heimdall_pipeline.iq.reports import agreement_outcome  # matplotlib: only runs that check load it

    with reader.connection() as conn:
        return per_upload_day(context, lambda day, start, end: agreement_outcome(conn, start, end))


IQ_ASSETS = [iq_metrics, heimdall_vs_recomputed_metrics]
IQ_ASSET_CHECKS = [recomputed_metrics_agree_with_heimdall]

iq_job = define_asset_job(
    "iq_job",
    selection=AssetSelection.assets(*IQ_ASSETS),
    executor_def=in_process_executor,
    description="Recompute the metrics of one upload day's IQ recordings (or a backfill range), then compare with Heimdall's.",
)

iq_automation_sensor = AutomationConditionSensorDefinition(
    "iq_automation_sensor",
    target=AssetSelection.assets(*IQ_ASSETS),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Materializes iq_metrics, then the comparison, for a day whose measurements were materialized.",
)

IQ_JOBS = [iq_job]
IQ_SENSORS = [iq_automation_sensor]
