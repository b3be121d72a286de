"""Asset checks on the ingest chain, evaluated per upload day of the run's partition window.

A run of one partition returns its one result, for that partition. A ranged (backfill) run
evaluates each day on its own and records it for that day's partition (so each partition's
Checks tab shows that day's result); the run's own result then summarises the days: passed only
if every day passed, with the worst day's severity, so a blocking check still stops downstream.

Severity: a bad day of data (a receiver silent, odd SNR or offsets) WARNs and lets the day
through. Aggregates that disagree with the rows are an ERROR on a blocking check, so nothing
builds on them. Objects left unaccounted (a GET that failed after its retries) are an ERROR that
fails the run, but only after measurements_hourly has refreshed the rows that did load: one bad
object must not keep a day's aggregates stale.
"""

from collections.abc import Callable
from datetime import date, datetime

from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetRecordsFilter,
    Failure,
    MetadataValue,
    asset_check,
)
# Not exported by dagster 1.13; it ties a day's logged result to that day's materialization, as
# Dagster does for a result it returns, so the UI does not show the day's check as outdated.
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from heimdall_pipeline.defs.ingest.assets import days_to_aggregate, measurements, measurements_hourly, window_days
from heimdall_pipeline.defs.partitions import daily_partitions
from heimdall_pipeline.defs.resources import TimescaleResource
from heimdall_pipeline.ingest.uploads import upload_day_bounds
from heimdall_pipeline.ingest.ledger import (
    day_conflicts,
    PLAUSIBLE_SNR_RANGE_DB,
    partition_rows,
    receiver_counts,
    unfinished_entries,
    unknown_receiver_ids,
)
from heimdall_pipeline.analytics.aggregates import day_bounds, hourly_mismatches, is_day_dropped
from heimdall_pipeline.ingest.loader import ledger_summary

SNR_RANGE_DB = PLAUSIBLE_SNR_RANGE_DB
FINAL_STATUSES = ("loaded", "updated", "present", "conflict", "rejected", "missing", "failed")
LISTED_EXAMPLES = 20
_SEVERITY_RANK = {AssetCheckSeverity.WARN: 0, AssetCheckSeverity.ERROR: 1}


def _latest_materialization(context: AssetCheckExecutionContext, partition: str):
    """The partition's latest materialization of the checked asset: what the day's result is about."""
    spec = context.check_specs[0]
    records = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=spec.asset_key, asset_partitions=[partition]), limit=1
    ).records
    if not records:
        return None
    return AssetCheckEvaluationTargetMaterializationData(
        run_id=records[0].event_log_entry.run_id, storage_id=records[0].storage_id, timestamp=records[0].timestamp
    )


def per_upload_day(
    context: AssetCheckExecutionContext, evaluate: Callable[[date, datetime, datetime], AssetCheckResult]
) -> AssetCheckResult:
    """`evaluate(day, start, end)` for the run's one day, or for each day of a ranged run, each
    day's result recorded for its own partition; returns the run's result (see the module doc)."""
    start, end = context.partition_time_window
    days = window_days(start, end)
    if len(days) == 1:
        return evaluate(days[0], start, end)
    spec = context.check_specs[0]
    results = {}
    for day in days:
        result = evaluate(day, *upload_day_bounds(day))
        results[day] = result
        context.op_execution_context.log_event(
            AssetCheckEvaluation(
                asset_key=spec.asset_key,
                check_name=spec.name,
                passed=result.passed,
                severity=result.severity,
                description=result.description,
                metadata=result.metadata,
                blocking=spec.blocking,
                partition=day.isoformat(),
                target_materialization_data=_latest_materialization(context, day.isoformat()),
            )
        )
    failed = {day: result for day, result in results.items() if not result.passed}
    worst = max((r.severity for r in failed.values()), key=_SEVERITY_RANK.__getitem__, default=AssetCheckSeverity.WARN)
    table = "\n".join(
        f"| {day} | {'passed' if r.passed else r.severity.value} | {(r.description or '').replace('|', '/')} |"
        for day, r in results.items()
    )
    return AssetCheckResult(
        passed=not failed,
        severity=worst if failed else next(iter(results.values())).severity,
        description=(
            f"run range {days[0]} .. {days[-1]}: {len(days) - len(failed)} of {len(days)} days passed"
            + (f"; failed: {', '.join(str(day) for day in failed)}" if failed else "")
        ),
        metadata={
            "run range: upload days": MetadataValue.text(f"{days[0]} .. {days[-1]} ({len(days)} days)"),
            "run range: days failed": MetadataValue.text(", ".join(str(day) for day in failed) or "-"),
            "run range: result per day": MetadataValue.md(
                "| day | result | description |\n|---|---|---|\n" + table
            ),
        },
    )


@asset_check(
    asset=measurements,
    partitions_def=daily_partitions,
    description=(
        "Every receiver active that day (websdr_station_versions: active at any moment of the upload day) has "
        "rows among the day's rows, whoever inserted them, each counted for the station its id named at "
        "its time (WARN)."
    ),
)
def all_receivers_reported(context: AssetCheckExecutionContext, timescale: TimescaleResource) -> AssetCheckResult:
    with timescale.connection() as conn:
        return per_upload_day(context, lambda day, start, end: _receivers_reported(conn, start, end))


def _receivers_reported(conn, start: datetime, end: datetime) -> AssetCheckResult:
    counts = receiver_counts(conn, start, end)
    missing = [c for c in counts if c.measurements == 0]
    # Reported, not failed on: the day's receivers are judged by the list; an id outside it means
    # the list needs a sync (heimdall-stations), which the README's operator section covers.
    unknown = unknown_receiver_ids(conn, start, end)
    table = "\n".join(f"| {c.websdr_ids} | {c.name} | {c.measurements} |" for c in counts)
    return AssetCheckResult(
        passed=not missing,
        severity=AssetCheckSeverity.WARN,
        description=("missing: " + ", ".join(c.name for c in missing)) if missing else "all receivers reported",
        metadata={
            "missing receivers": MetadataValue.text(", ".join(c.name for c in missing) or "-"),
            "expected receivers": MetadataValue.text(", ".join(c.name for c in counts) or "-"),
            "ids no station had then": MetadataValue.text(
                ", ".join(f"websdr {i}: {n} measurements" for i, n in unknown.items()) or "-"
            ),
            "measurements per receiver": MetadataValue.md(
                "| id(s) that day | receiver | measurements |\n|---|---|---|\n" + table
            ),
        },
    )


@asset_check(
    asset=measurements,
    partitions_def=daily_partitions,
    description=(
        f"SNR of the day's rows within {SNR_RANGE_DB[0]:g}..{SNR_RANGE_DB[1]:g} dB (WARN): every row measured on "
        "the day and every row its uploads name, whoever inserted it (this pipeline or Heimdall's worker)."
    ),
)
def snr_in_plausible_range(context: AssetCheckExecutionContext, timescale: TimescaleResource) -> AssetCheckResult:
    with timescale.connection() as conn:
        return per_upload_day(context, lambda day, start, end: _snr_in_range(conn, start, end))


def _snr_in_range(conn, start: datetime, end: datetime) -> AssetCheckResult:
    found = partition_rows(conn, start, end, SNR_RANGE_DB)
    return AssetCheckResult(
        passed=found.snr_out_of_range == 0,
        severity=AssetCheckSeverity.WARN,
        description=f"{found.snr_out_of_range} of {found.measurements} rows outside the range",
        metadata={
            "measurements": found.measurements,
            "out of range": found.snr_out_of_range,
            "min snr_db": found.min_snr_db,
            "max snr_db": found.max_snr_db,
        },
    )


@asset_check(
    asset=measurements,
    partitions_def=daily_partitions,
    description=(
        "Frequency offset of the day's rows within ±sample_rate/2 (WARN): every row measured on the day and "
        "every row its uploads name, whoever inserted it."
    ),
)
def frequency_offset_within_band(context: AssetCheckExecutionContext, timescale: TimescaleResource) -> AssetCheckResult:
    with timescale.connection() as conn:
        return per_upload_day(context, lambda day, start, end: _offsets_within_band(conn, start, end))


def _offsets_within_band(conn, start: datetime, end: datetime) -> AssetCheckResult:
    found = partition_rows(conn, start, end, SNR_RANGE_DB)
    return AssetCheckResult(
        passed=found.offset_out_of_range == 0,
        severity=AssetCheckSeverity.WARN,
        description=f"{found.offset_out_of_range} of {found.measurements} rows beyond ±sample_rate/2",
        metadata={
            "measurements": found.measurements,
            "out of range": found.offset_out_of_range,
            "max |offset| Hz": found.max_abs_offset_hz,
        },
    )


@asset_check(
    asset=measurements,
    partitions_def=daily_partitions,
    description=(
        "No object uploaded on the day found a stored row with its key (task, receiver, time) holding other "
        "values (ledger status 'conflict'; the stored row is kept). WARN, with the count and the first reasons."
    ),
)
def no_conflicting_rows(context: AssetCheckExecutionContext, timescale: TimescaleResource) -> AssetCheckResult:
    with timescale.connection() as conn:
        return per_upload_day(context, lambda day, start, end: _no_conflicts(conn, start, end))


def _no_conflicts(conn, start: datetime, end: datetime) -> AssetCheckResult:
    count, examples = day_conflicts(conn, start, end, LISTED_EXAMPLES)
    rows = "\n".join(f"| `{key}` | {reason.replace('|', '/')} |" for key, reason in examples)
    return AssetCheckResult(
        passed=count == 0,
        severity=AssetCheckSeverity.WARN,
        description=(
            f"{count} objects in conflict with a stored row (kept as it is)" if count else "no conflicting rows"
        ),
        metadata={
            "conflicts": count,
            "conflicts (first)": MetadataValue.md("| key | reason |\n|---|---|\n" + (rows or "| (none) | |")),
        },
    )


@asset_check(
    asset=measurements,
    partitions_def=daily_partitions,
    # Evaluated after measurements_hourly, so the rows that did load are aggregated before a
    # pending object fails the run (a blocking check would skip the aggregates instead).
    additional_deps=[measurements_hourly],
    description=(
        "Every metadata object of the day in ingest_ledger has a final status: nothing pending (ERROR; fails "
        "the run after measurements_hourly so the sensor and run retries come back). Objects given up as "
        "'failed' after repeated GET failures: WARN. Objects the ledger does not know yet are the "
        "reconciliation pass's to find (the sensor), never listed here."
    ),
)
def no_object_unaccounted(context: AssetCheckExecutionContext, timescale: TimescaleResource):
    start, end = context.partition_time_window
    unaccounted_days: dict[date, int] = {}

    def evaluate(day: date, day_start: datetime, day_end: datetime) -> AssetCheckResult:
        result, pending = _objects_accounted_for(conn, day_start, day_end)
        if pending:
            unaccounted_days[day] = pending
        return result

    with timescale.connection() as conn:
        yield per_upload_day(context, evaluate)
    if unaccounted_days:
        pending = sum(unaccounted_days.values())
        raise Failure(
            description=(
                f"{pending} objects of {', '.join(map(str, unaccounted_days))} are still pending: the rows that "
                "loaded are in and aggregated; the sensor requests another run for the pending ones"
            )
        )


def _objects_accounted_for(conn, start: datetime, end: datetime) -> tuple[AssetCheckResult, int]:
    """The day's result from the ledger alone (no listing: what the bucket holds beyond the ledger is
    the reconciliation pass's to find), and how many of its objects are still pending."""
    summary = ledger_summary(conn, start, end)
    objects = sum(count for count, _ in summary.values())
    pending = sum(count for status, (count, _) in summary.items() if status not in FINAL_STATUSES)
    failed = summary.get("failed", (0, 0))[0]
    examples = "\n".join(f"| `{key}` | {status} |" for key, status in unfinished_entries(conn, start, end, LISTED_EXAMPLES))
    result = AssetCheckResult(
        passed=not pending and not failed,
        severity=AssetCheckSeverity.ERROR if pending else AssetCheckSeverity.WARN,
        description=f"{pending} pending, {failed} failed (given up) of {objects} objects in the ledger",
        metadata={
            "objects in ledger": objects,
            "pending": pending,
            "failed": failed,
            "missing (deleted)": summary.get("missing", (0, 0))[0],
            "examples": MetadataValue.md("| key | state |\n|---|---|\n" + (examples or "| (none) | |")),
        },
    )
    return result, pending


@asset_check(
    asset=measurements_hourly,
    partitions_def=daily_partitions,
    blocking=True,
    description=(
        "measurements_hourly equals a recomputation from measurements for the day and every measurement "
        "day its uploads touched (ERROR, blocking)."
    ),
)
def hourly_matches_measurements(context: AssetCheckExecutionContext, timescale: TimescaleResource) -> AssetCheckResult:
    with timescale.connection() as conn:
        return per_upload_day(context, lambda day, start, end: _hourly_matches(conn, start, end))


def _hourly_matches(conn, start: datetime, end: datetime) -> AssetCheckResult:
    mismatches = []
    # Days retention dropped are compared against their archive by the retention job instead.
    days = [day for day in days_to_aggregate(conn, start, end) if not is_day_dropped(conn, day)]
    for day in days:
        mismatches += hourly_mismatches(conn, *day_bounds(day))
    rows = "\n".join(
        f"| {bucket.isoformat()} | {websdr_id} | {frequency} | {expected} | {actual} |"
        for bucket, websdr_id, frequency, expected, actual in mismatches[:LISTED_EXAMPLES]
    )
    return AssetCheckResult(
        passed=not mismatches,
        severity=AssetCheckSeverity.ERROR,
        metadata={
            "days compared": MetadataValue.text(", ".join(str(d) for d in days)),
            "mismatched groups": len(mismatches),
            "mismatches (first)": MetadataValue.md(
                "| hour | receiver | MHz | expected count | actual count |\n|---|---|---|---|---|\n"
                + (rows or "| (none) | | | | |")
            ),
        },
    )


INGEST_ASSET_CHECKS = [
    all_receivers_reported,
    snr_in_plausible_range,
    frequency_offset_within_band,
    no_conflicting_rows,
    no_object_unaccounted,
    hourly_matches_measurements,
]
