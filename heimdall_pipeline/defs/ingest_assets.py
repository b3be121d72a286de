"""The ingest chain, one UTC upload day per partition: minio_metadata → measurements → measurements_hourly.

Each asset works on its run's partition time window, which is one day for a normal run and
several for a backfill run (BackfillPolicy below), so a 60-day backfill lists the bucket once per
run instead of once per day.
"""

from datetime import date, datetime, timedelta

from dagster import (
    AssetExecutionContext,
    AssetSelection,
    AutomationCondition,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
    define_asset_job,
    in_process_executor,
)

from heimdall_pipeline.aggregates import is_day_dropped, refresh_hourly
from heimdall_pipeline.defs.partitions import daily_partitions
from heimdall_pipeline.defs.resources import HeimdallBuckets, HeimdallS3Resource, TimescaleResource
from heimdall_pipeline.ingest import IngestResult, list_uploads, load_pending
from heimdall_pipeline.ledger_queries import advisory_locks, measurement_days_of_uploads
from heimdall_pipeline.loader import ledger_summary
from heimdall_pipeline.object_store import ledger_key

# 60 days of history → 6 runs, each listing the bucket once for its 10 days.
INGEST_BACKFILL_POLICY = BackfillPolicy.multi_run(max_partitions_per_run=10)
REPORTED_REASONS = 20


def window_days(start: datetime, end: datetime) -> list[date]:
    """The UTC days of a partition time window [start, end)."""
    return [start.date() + timedelta(days=offset) for offset in range((end - start).days)]


def days_to_aggregate(conn, start: datetime, end: datetime) -> list[date]:
    """The window's days and every measurement day its uploads carry (late uploads reach back)."""
    return sorted(set(window_days(start, end)) | set(measurement_days_of_uploads(conn, start, end)))


def _ledger_table(summary: dict[str, tuple[int, int]]) -> MetadataValue:
    rows = "\n".join(f"| {status} | {objects} | {size} |" for status, (objects, size) in sorted(summary.items()))
    return MetadataValue.md("| status | objects | bytes |\n|---|---|---|\n" + (rows or "| (none) | 0 | 0 |"))


def _rejections_table(result: IngestResult) -> MetadataValue:
    rows = "\n".join(
        f"| `{ledger_key(r.info.key)}` | {r.reason.replace('|', '/')} |" for r in result.rejections[:REPORTED_REASONS]
    )
    return MetadataValue.md("| key | reason |\n|---|---|\n" + (rows or "| (none) | |"))


def _window_metadata(start: datetime, end: datetime) -> dict:
    days = window_days(start, end)
    return {"upload days": MetadataValue.text(f"{days[0]} .. {days[-1]}" if len(days) > 1 else str(days[0]))}


@asset(
    partitions_def=daily_partitions,
    backfill_policy=INGEST_BACKFILL_POLICY,
    group_name="ingest",
    kinds={"s3", "postgres"},
    description=(
        "The metadata objects (sessions/*/websdr_*_metadata.json) uploaded on the partition's UTC day "
        "(their LastModified), each recorded in ingest_ledger: new or changed objects become pending."
    ),
)
def minio_metadata(
    context: AssetExecutionContext, timescale: TimescaleResource, s3: HeimdallS3Resource, buckets: HeimdallBuckets
) -> MaterializeResult:
    start, end = context.partition_time_window
    with timescale.connection() as conn:
        infos, listing = list_uploads(conn, s3.get_client(), buckets.raw, start, end)
        summary = ledger_summary(conn, start, end)
    context.log.info(
        f"{len(infos)} metadata objects uploaded in [{start}, {end}): "
        f"{listing.new} new, {listing.changed} changed, {listing.unchanged} unchanged"
    )
    return MaterializeResult(
        metadata={
            **_window_metadata(start, end),
            "objects": len(infos),
            "bytes": sum(i.size_bytes for i in infos),
            "new": listing.new,
            "changed": listing.changed,
            "unchanged": listing.unchanged,
            "pending": summary.get("pending", (0, 0))[0],
            "ledger": _ledger_table(summary),
            "dagster/row_count": len(infos),
        }
    )


@asset(
    partitions_def=daily_partitions,
    backfill_policy=INGEST_BACKFILL_POLICY,
    deps=[minio_metadata],
    group_name="ingest",
    kinds={"timescaledb"},
    description=(
        "Rows of the measurements hypertable from the objects uploaded on the partition's day that the "
        "ledger has as pending: concurrent GETs, parse/validate, COPY. dagster/row_count = rows that came "
        "from this day's objects (ledger status loaded or updated), the same on every re-materialization."
    ),
)
def measurements(
    context: AssetExecutionContext, timescale: TimescaleResource, s3: HeimdallS3Resource, buckets: HeimdallBuckets
) -> MaterializeResult:
    start, end = context.partition_time_window
    with timescale.connection() as conn:
        # Two runs of the same day (sensor + schedule) must not both load the same pending objects.
        with advisory_locks(conn, [f"heimdall:upload-day:{d}" for d in window_days(start, end)], log=context.log):
            result = load_pending(
                conn, s3.get_client(), buckets.raw, start, end, max_object_bytes=s3.max_object_bytes
            )
        summary = ledger_summary(conn, start, end)
        days = measurement_days_of_uploads(conn, start, end)
    loaded = summary.get("loaded", (0, 0))[0] + summary.get("updated", (0, 0))[0]
    still_pending = summary.get("pending", (0, 0))[0]
    context.log.info(
        f"loaded {result.objects} pending objects: {result.inserted} inserted, {result.updated} updated, "
        f"{result.duplicate} duplicate, "
        f"{result.rejected} rejected, {result.missing} missing, {result.failed} failed GETs "
        f"({result.gave_up} given up), {result.retries} GET retries ({result.rows_per_second:,.0f} rows/s)"
    )
    for rejection in result.rejections:
        if rejection.reason.startswith("internal_error:"):  # a parser bug, not bad data: say which object
            context.log.error(f"{rejection.info.key}: rejected, parsing raised {rejection.reason}")
    metadata = {
        **_window_metadata(start, end),
        "objects": result.objects,
        "inserted": result.inserted,
        "updated": result.updated,
        "duplicate": result.duplicate,
        "rejected": result.rejected,
        "failed": result.failed,
        "failed, given up": result.gave_up,
        "missing": result.missing,
        "changed since listing": result.changed,
        "GET retries": result.retries,
        "pending": still_pending,
        "rejections (first)": _rejections_table(result),
        "rows/s": round(result.rows_per_second, 1),
        "first measurement": MetadataValue.text(str(result.first_measurement or "-")),
        "last measurement": MetadataValue.text(str(result.last_measurement or "-")),
        "measurement days touched": MetadataValue.text(", ".join(str(d) for d in days) or "-"),
        "ledger": _ledger_table(summary),
        "dagster/row_count": loaded,
    }
    if result.failed:
        # The rows that did load are materialized, so measurements_hourly still refreshes them; the
        # check no_object_unaccounted then fails the run, and the sensor retries the pending objects.
        failures = "\n".join(f"| `{key}` | {error.replace('|', '/')} |" for key, error in result.failures)
        metadata["failures (first)"] = MetadataValue.md("| key | error |\n|---|---|\n" + failures)
        context.log.warning(
            f"{result.failed} GETs failed after their retries: {result.failed - result.gave_up} objects stay pending "
            f"(the sensor requests another run for them), {result.gave_up} are now 'failed'"
        )
    return MaterializeResult(metadata=metadata)


@asset(
    partitions_def=daily_partitions,
    backfill_policy=INGEST_BACKFILL_POLICY,
    deps=[measurements],
    group_name="ingest",
    kinds={"timescaledb"},
    automation_condition=AutomationCondition.eager(),
    description=(
        "Hourly aggregates per receiver and frequency, rebuilt for the partition's day and for every "
        "measurement day that its uploads touched (a late upload refreshes its own, older day)."
    ),
)
def measurements_hourly(context: AssetExecutionContext, timescale: TimescaleResource) -> MaterializeResult:
    start, end = context.partition_time_window
    groups: dict[date, int] = {}
    archived: list[date] = []
    with timescale.connection() as conn:
        days = days_to_aggregate(conn, start, end)
        for day in days:
            with advisory_locks(conn, [f"heimdall:hourly-day:{day}"], log=context.log):
                if is_day_dropped(conn, day):
                    # Recomputing would keep only the late rows; the archive holds the rest.
                    archived.append(day)
                    continue
                groups[day] = refresh_hourly(conn, day)
    if archived:
        context.log.warning(
            f"late rows arrived for archived day(s) {', '.join(map(str, archived))}: their hourly aggregates "
            "were left as they are; the next retention_job run restores the day, re-archives it with "
            "the late rows and refreshes its aggregates"
        )
    late = [d for d in groups if not start.date() <= d < end.date()]
    refreshed = ", ".join(f"{day} ({count} groups)" for day, count in groups.items()) or "none"
    context.log.info(f"refreshed hourly aggregates of {len(groups)} day(s): {refreshed}")
    table = "\n".join(f"| {day} | {count} |" for day, count in groups.items())
    return MaterializeResult(
        metadata={
            **_window_metadata(start, end),
            "days refreshed": len(groups),
            "late days refreshed": MetadataValue.text(", ".join(str(d) for d in late) or "-"),
            "archived days left as they are": MetadataValue.text(", ".join(str(d) for d in archived) or "-"),
            "groups by day": MetadataValue.md("| day | hourly groups |\n|---|---|\n" + table),
            "dagster/row_count": sum(groups.values()),
        }
    )


INGEST_ASSETS = [minio_metadata, measurements, measurements_hourly]

# The whole chain of one partition (checks of these assets included): what the sensor and the
# daily schedule launch, so measurements_hourly always follows measurements in the same run.
# In one process: the chain is sequential and its checks take milliseconds, while the default
# executor starts a process per step, each importing the code location again (measured under
# `make serve`: 90 s for a day of 1,374 objects, of which 15 s was work).
ingest_job = define_asset_job(
    "ingest_job",
    selection=AssetSelection.assets(*INGEST_ASSETS),
    executor_def=in_process_executor,
    description="List, load and aggregate the objects uploaded on one UTC day (or a backfill range).",
    # A run fails at its last step (no_object_unaccounted) when objects stay pending; a retry from
    # that failure would only re-run the check, so a retried run (when the instance enables
    # run_retries) runs the whole chain again: it lists the day and loads what is still pending.
    tags={"dagster/retry_strategy": "ALL_STEPS"},
)
