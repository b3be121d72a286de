"""The ingest chain, one UTC upload day per partition: minio_metadata → measurements → measurements_hourly.

No asset lists the bucket: discovery (notifications, and the sensor's bounded reconciliation pass,
heimdall_pipeline.ingest.discovery) records each object in ingest_ledger with its upload day, and a
run takes its day's objects from there, so its cost follows the day's objects, not the bucket's.

Each asset works on its run's partition time window, which is one day for a normal run and
several for a backfill run (BackfillPolicy below). A ranged run still computes and reports each upload day on its own:
every partition's materialization carries that day's figures (context.add_asset_metadata with the
partition), and the range's totals only under "run range: " names.
"""

from datetime import date

from dagster import (
    AssetCheckKey,
    AssetExecutionContext,
    AssetKey,
    AssetSelection,
    AutomationCondition,
    BackfillPolicy,
    MaterializeResult,
    MetadataValue,
    asset,
    define_asset_job,
    in_process_executor,
)

from heimdall_pipeline.analytics.aggregates import days_to_aggregate, refresh_hourly_days
from heimdall_pipeline.core.object_store import ledger_key
from heimdall_pipeline.defs.metadata import headline_first, partition_report
from heimdall_pipeline.defs.partitions import daily_partitions
from heimdall_pipeline.defs.resources import HeimdallBuckets, HeimdallS3Resource, TimescaleResource
from heimdall_pipeline.ingest.ledger import PartitionRows, day_discovery, measurement_days_of_uploads, partition_rows
from heimdall_pipeline.ingest.loader import ledger_summary
from heimdall_pipeline.ingest.uploads import (
    IngestResult,
    load_pending_by_day,
    upload_day_bounds,
    upload_days,
)

# 60 days of history → 6 runs of 10 days each. A ranged run still reports per day: each
# partition's materialization carries that day's own figures.
INGEST_BACKFILL_POLICY = BackfillPolicy.multi_run(max_partitions_per_run=10)
REPORTED_REASONS = 20

window_days = upload_days  # the days of a partition time window


def _ledger_table(summary: dict[str, tuple[int, int]]) -> MetadataValue:
    rows = "\n".join(f"| {status} | {objects} | {size} |" for status, (objects, size) in sorted(summary.items()))
    return MetadataValue.md("| status | objects | bytes |\n|---|---|---|\n" + (rows or "| (none) | 0 | 0 |"))


def _rejections_table(result: IngestResult) -> MetadataValue:
    rows = "\n".join(
        f"| `{ledger_key(r.info.key)}` | {r.reason.replace('|', '/')} |" for r in result.rejections[:REPORTED_REASONS]
    )
    return MetadataValue.md("| key | reason |\n|---|---|\n" + (rows or "| (none) | |"))


def _day_metadata(day: date) -> dict:
    return {"upload days": MetadataValue.text(str(day))}


def _ledger_day_metadata(day: date, summary: dict, discovered: dict[str, int]) -> dict:
    objects = sum(count for count, _ in summary.values())
    return headline_first(
        {
            **_day_metadata(day),
            "objects": objects,
            "bytes": sum(size for _, size in summary.values()),
            "pending": summary.get("pending", (0, 0))[0],
            "recorded from notifications": discovered.get("events", 0),
            "recorded by the listing": discovered.get("listing", 0),
            "ledger": _ledger_table(summary),
            "dagster/row_count": objects,
        },
        ("objects", "pending"),
    )


@asset(
    partitions_def=daily_partitions,
    backfill_policy=INGEST_BACKFILL_POLICY,
    group_name="ingest",
    kinds={"s3", "postgres"},
    description=(
        "The metadata objects (sessions/*/websdr_*_metadata.json) uploaded on the partition's UTC day "
        "(their LastModified), as ingest_ledger knows them: recorded by object notifications or by the "
        "sensor's reconciliation pass over the bucket. Reads the ledger only; never lists the bucket."
    ),
)
def minio_metadata(context: AssetExecutionContext, timescale: TimescaleResource) -> MaterializeResult:
    start, end = context.partition_time_window
    per_day = {}
    with timescale.connection() as conn:
        for day in window_days(start, end):
            bounds = upload_day_bounds(day)
            per_day[day] = _ledger_day_metadata(day, ledger_summary(conn, *bounds), day_discovery(conn, *bounds))
            context.log.info(
                f"{per_day[day]['objects']} metadata objects uploaded on {day} in the ledger, {per_day[day]['pending']} pending"
            )
    return partition_report(
        context,
        per_day,
        {name: sum(m[name] for m in per_day.values()) for name in ("objects", "pending")},
    )


def _conflicts_table(result: IngestResult) -> MetadataValue:
    rows = "\n".join(f"| `{c.object_key}` | {c.reason.replace('|', '/')} |" for c in result.conflict_examples[:REPORTED_REASONS])
    return MetadataValue.md("| key | reason |\n|---|---|\n" + (rows or "| (none) | |"))


def _loading_metadata(day: date, result: IngestResult, summary: dict, days_touched: list[date], rows: PartitionRows) -> dict:
    metadata = {
        **_day_metadata(day),
        "objects": result.objects,
        # What this run did with the day's pending objects.
        "inserted": result.inserted,
        "updated": result.updated,
        "already present": result.present,
        "conflicts": result.conflicts,
        "rejected": result.rejected,
        "failed": result.failed,
        "failed, given up": result.gave_up,
        "missing": result.missing,
        "changed since listing": result.changed,
        "GET retries": result.retries,
        "pending": summary.get("pending", (0, 0))[0],
        "rejections (first)": _rejections_table(result),
        "conflicts (first)": _conflicts_table(result),
        "rows/s": round(result.rows_per_second, 1),
        "first measurement": MetadataValue.text(str(result.first_measurement or "-")),
        "last measurement": MetadataValue.text(str(result.last_measurement or "-")),
        "measurement days touched": MetadataValue.text(", ".join(str(d) for d in days_touched) or "-"),
        "ledger": _ledger_table(summary),
        # The day's rows in measurements, whoever inserted them (sql/ingest/ledger/partition_rows.sql).
        "rows measured on the day": rows.measured_on_day,
        "rows of the day's uploads measured on other days": rows.measured_on_other_days,
        "dagster/row_count": rows.measurements,
    }
    if result.failed:
        failures = "\n".join(f"| `{key}` | {error.replace('|', '/')} |" for key, error in result.failures)
        metadata["failures (first)"] = MetadataValue.md("| key | error |\n|---|---|\n" + failures)
    return headline_first(metadata, ("inserted", "rejected", "pending", "failed"))


@asset(
    partitions_def=daily_partitions,
    backfill_policy=INGEST_BACKFILL_POLICY,
    deps=[minio_metadata],
    group_name="ingest",
    kinds={"timescaledb"},
    description=(
        "Rows of the measurements hypertable from the objects uploaded on the partition's day that the "
        "ledger has as pending: concurrent GETs, parse/validate, COPY; a row whose key is already stored "
        "(e.g. by Heimdall's worker) is 'present' when equal, a 'conflict' when not (the stored row is kept). "
        "dagster/row_count = the day's rows in measurements, whoever inserted them: those measured on the "
        "day and those its uploads name."
    ),
)
def measurements(
    context: AssetExecutionContext, timescale: TimescaleResource, s3: HeimdallS3Resource, buckets: HeimdallBuckets
) -> MaterializeResult:
    start, end = context.partition_time_window
    per_day = {}
    with timescale.connection() as conn:
        results = load_pending_by_day(
            conn, s3.get_client(), buckets.raw, start, end, log=context.log, max_object_bytes=s3.max_object_bytes
        )
        for day, result in results.items():
            day_start, day_end = upload_day_bounds(day)
            summary = ledger_summary(conn, day_start, day_end)
            per_day[day] = _loading_metadata(
                day,
                result,
                summary,
                measurement_days_of_uploads(conn, day_start, day_end),
                partition_rows(conn, day_start, day_end),
            )
    for day, result in results.items():
        context.log.info(
            f"{day}: loaded {result.objects} pending objects: {result.inserted} inserted, {result.updated} updated, "
            f"{result.present} already present, {result.conflicts} in conflict with a stored row, "
            f"{result.rejected} rejected, {result.missing} missing, {result.failed} failed GETs "
            f"({result.gave_up} given up), {result.retries} GET retries ({result.rows_per_second:,.0f} rows/s)"
        )
        for rejection in result.rejections:
            if rejection.reason.startswith("internal_error:"):  # a parser bug, not bad data: say which object
                context.log.error(f"{rejection.info.key}: rejected, parsing raised {rejection.reason}")
        if result.failed:
            # The rows that did load are materialized, so measurements_hourly still refreshes them; the
            # check no_object_unaccounted then fails the run, and the sensor retries the pending objects.
            context.log.warning(
                f"{day}: {result.failed} GETs failed after their retries: {result.failed - result.gave_up} objects "
                f"stay pending (the sensor requests another run for them), {result.gave_up} are now 'failed'"
            )
    return partition_report(
        context,
        per_day,
        {
            name: sum(getattr(result, field) for result in results.values())
            for name, field in (("objects", "objects"), ("inserted", "inserted"), ("rejected", "rejected"), ("failed", "failed"))
        },
    )


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
    with timescale.connection() as conn:
        # Per upload day, the measurement days it covers; each of those is refreshed once per run.
        covered = {day: days_to_aggregate(conn, *upload_day_bounds(day)) for day in window_days(start, end)}
        refreshed = refresh_hourly_days(conn, set().union(*covered.values()), log=context.log)
    groups, archived = refreshed.groups, refreshed.archived
    if archived:
        context.log.warning(
            f"late rows arrived for archived day(s) {', '.join(map(str, archived))}: their hourly aggregates "
            "were left as they are; the next retention_job run restores the day, re-archives it with "
            "the late rows and refreshes its aggregates"
        )
    shown = ", ".join(f"{day} ({count} groups)" for day, count in groups.items()) or "none"
    context.log.info(f"refreshed hourly aggregates of {len(groups)} day(s): {shown}")
    per_day = {}
    for upload_day, days in covered.items():
        day_groups = {day: groups[day] for day in days if day in groups}
        table = "\n".join(f"| {day} | {count} |" for day, count in day_groups.items())
        per_day[upload_day] = headline_first(
            {
                **_day_metadata(upload_day),
                "days refreshed": len(day_groups),
                "late days refreshed": MetadataValue.text(", ".join(str(d) for d in day_groups if d != upload_day) or "-"),
                "archived days left as they are": MetadataValue.text(", ".join(str(d) for d in days if d in archived) or "-"),
                "groups by day": MetadataValue.md("| day | hourly groups |\n|---|---|\n" + table),
                "dagster/row_count": sum(day_groups.values()),
            },
            ("days refreshed",),
        )
    return partition_report(context, per_day, {"days refreshed": len(groups), "hourly groups": sum(groups.values())})


INGEST_ASSETS = [minio_metadata, measurements, measurements_hourly]

# Checks on these assets about now, not about a day (defined in heimdall_pipeline.defs.lifecycle.freshness,
# run by freshness_checks_job): left out of a day's run, whose failure they must not cause.
FRESHNESS_CHECK_KEYS = (
    AssetCheckKey(AssetKey("minio_metadata"), "uploads_arriving"),
    AssetCheckKey(AssetKey("measurements"), "receivers_heard_recently"),
)

# The whole chain of one partition (checks of these assets included): what the sensor and the
# daily schedule launch, so measurements_hourly always follows measurements in the same run.
# In one process: the chain is sequential and its checks take milliseconds, while the default
# executor starts a process per step, each importing the code location again (measured under
# `make serve`: 90 s for a day of 1,374 objects, of which 15 s was work).
ingest_job = define_asset_job(
    "ingest_job",
    selection=AssetSelection.assets(*INGEST_ASSETS) - AssetSelection.checks(*FRESHNESS_CHECK_KEYS),
    executor_def=in_process_executor,
    description="List, load and aggregate the objects uploaded on one UTC day (or a backfill range).",
    # A run fails at its last step (no_object_unaccounted) when objects stay pending; a retry from
    # that failure would only re-run the check, so a retried run (when the instance enables
    # run_retries) runs the whole chain again: it lists the day and loads what is still pending.
    tags={"dagster/retry_strategy": "ALL_STEPS"},
)
