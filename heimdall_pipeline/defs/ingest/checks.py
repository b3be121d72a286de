"""Asset checks on the ingest chain, evaluated per upload day of the run's partition window.

What each check concludes is heimdall_pipeline.ingest.checks' (and analytics.checks' for the
aggregates): here, which asset each checks, and how a day's outcome is recorded. A run of one
partition returns its one result, for that partition. A ranged (backfill) run evaluates each day on
its own and records it for that day's partition (so each partition's Checks tab shows that day's
result); the run's own result then summarises the days (summarize_days), so a blocking check still
stops downstream.

Aggregates that disagree with the rows are an ERROR on a blocking check, so nothing builds on them.
Objects left unaccounted are an ERROR that fails the run, but only after measurements_hourly has
refreshed the rows that did load: one bad object must not keep a day's aggregates stale.
"""

from collections.abc import Callable
from datetime import date, datetime
from functools import partial

import psycopg
from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    AssetRecordsFilter,
    AssetsDefinition,
    Failure,
    MetadataValue,
    asset_check,
)

# Not exported by dagster 1.13; it ties a day's logged result to that day's materialization, as
# Dagster does for a result it returns, so the UI does not show the day's check as outdated.
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluationTargetMaterializationData,
)

from heimdall_pipeline.analytics.checks import hourly_matches_rows
from heimdall_pipeline.defs.ingest.assets import measurements, measurements_hourly, window_days
from heimdall_pipeline.defs.partitions import daily_partitions
from heimdall_pipeline.defs.resources import TimescaleResource
from heimdall_pipeline.ingest.checks import (
    OFFSET_WITHIN_BAND,
    SNR_IN_PLAUSIBLE_RANGE,
    CheckOutcome,
    Markdown,
    no_conflicts,
    objects_accounted_for,
    pending_objects_message,
    receivers_reported,
    rows_within,
    summarize_days,
)
from heimdall_pipeline.ingest.ledger import PLAUSIBLE_SNR_RANGE_DB
from heimdall_pipeline.ingest.uploads import upload_day_bounds


def check_result(outcome: CheckOutcome) -> AssetCheckResult:
    """A library CheckOutcome as Dagster's result: Markdown values as Markdown, the rest as they are."""
    return AssetCheckResult(
        passed=outcome.passed,
        severity=AssetCheckSeverity(outcome.severity.value),
        description=outcome.description,
        metadata={
            name: MetadataValue.md(value) if isinstance(value, Markdown) else value for name, value in outcome.metadata.items()
        },
    )


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
    context: AssetCheckExecutionContext, evaluate: Callable[[date, datetime, datetime], CheckOutcome]
) -> AssetCheckResult:
    """`evaluate(day, start, end)` for the run's one day, or for each day of a ranged run, each
    day's result recorded for its own partition; returns the run's result (see the module doc)."""
    start, end = context.partition_time_window
    days = window_days(start, end)
    if len(days) == 1:
        return check_result(evaluate(days[0], start, end))
    spec = context.check_specs[0]
    outcomes = {}
    for day in days:
        outcomes[day] = evaluate(day, *upload_day_bounds(day))
        result = check_result(outcomes[day])
        context.op_execution_context.log_event(
            AssetCheckEvaluation(  # type: ignore[arg-type]  # the stubs list fewer event kinds than run time takes
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
    return check_result(summarize_days(outcomes))


def day_check(
    name: str,
    evaluate: Callable[[psycopg.Connection, datetime, datetime], CheckOutcome],
    *,
    asset: AssetsDefinition,
    description: str,
    blocking: bool = False,
) -> AssetChecksDefinition:
    """An asset check named `name` on `asset` that concludes `evaluate(conn, start, end)` for each
    upload day of its run (per_upload_day)."""

    @asset_check(name=name, asset=asset, partitions_def=daily_partitions, blocking=blocking, description=description)
    def check(context: AssetCheckExecutionContext, timescale: TimescaleResource) -> AssetCheckResult:
        with timescale.connection() as conn:
            return per_upload_day(context, lambda day, start, end: evaluate(conn, start, end))

    return check


all_receivers_reported = day_check(
    "all_receivers_reported",
    receivers_reported,
    asset=measurements,
    description=(
        "Every receiver active that day (websdr_station_versions: active at any moment of the upload day) has "
        "rows among the day's rows, whoever inserted them, each counted for the station its id named at "
        "its time (WARN)."
    ),
)

snr_in_plausible_range = day_check(
    "snr_in_plausible_range",
    partial(rows_within, bound=SNR_IN_PLAUSIBLE_RANGE),
    asset=measurements,
    description=(
        f"SNR of the day's rows within {PLAUSIBLE_SNR_RANGE_DB[0]:g}..{PLAUSIBLE_SNR_RANGE_DB[1]:g} dB (WARN): "
        "every row measured on the day and every row its uploads name, whoever inserted it (this pipeline "
        "or Heimdall's worker)."
    ),
)

frequency_offset_within_band = day_check(
    "frequency_offset_within_band",
    partial(rows_within, bound=OFFSET_WITHIN_BAND),
    asset=measurements,
    description=(
        "Frequency offset of the day's rows within ±sample_rate/2 (WARN): every row measured on the day and "
        "every row its uploads name, whoever inserted it."
    ),
)

no_conflicting_rows = day_check(
    "no_conflicting_rows",
    no_conflicts,
    asset=measurements,
    description=(
        "No object uploaded on the day found a stored row with its key (task, receiver, time) holding other "
        "values (ledger status 'conflict'; the stored row is kept). WARN, with the count and the first reasons."
    ),
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
    unaccounted_days: dict[date, int] = {}

    def evaluate(day: date, day_start: datetime, day_end: datetime) -> CheckOutcome:
        outcome, pending = objects_accounted_for(conn, day_start, day_end)
        if pending:
            unaccounted_days[day] = pending
        return outcome

    with timescale.connection() as conn:
        yield per_upload_day(context, evaluate)
    if unaccounted_days:
        raise Failure(description=pending_objects_message(unaccounted_days))


hourly_matches_measurements = day_check(
    "hourly_matches_measurements",
    hourly_matches_rows,
    asset=measurements_hourly,
    blocking=True,
    description=(
        "measurements_hourly equals a recomputation from measurements for the day and every measurement "
        "day its uploads touched (ERROR, blocking)."
    ),
)


INGEST_ASSET_CHECKS = [
    all_receivers_reported,
    snr_in_plausible_range,
    frequency_offset_within_band,
    no_conflicting_rows,
    no_object_unaccounted,
    hourly_matches_measurements,
]
