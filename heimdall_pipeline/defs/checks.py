"""Asset checks on the ingest chain, evaluated on the run's partition window.

Severity: a bad day of data (a receiver silent, odd SNR or offsets) WARNs and lets the day
through. Aggregates that disagree with the rows are an ERROR on a blocking check, so nothing
builds on them. Objects left unaccounted (a GET that failed after its retries) are an ERROR that
fails the run, but only after measurements_hourly has refreshed the rows that did load: one bad
object must not keep a day's aggregates stale.
"""

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    Failure,
    MetadataValue,
    asset_check,
)

from heimdall_pipeline.defs.ingest_assets import days_to_aggregate, measurements, measurements_hourly
from heimdall_pipeline.defs.partitions import daily_partitions
from heimdall_pipeline.defs.resources import HeimdallBuckets, HeimdallS3Resource, TimescaleResource
from heimdall_pipeline.ledger_queries import (
    frequency_offset_range,
    ledger_entries,
    receiver_counts,
    snr_range,
)
from heimdall_pipeline.aggregates import day_bounds, hourly_mismatches, is_day_dropped
from heimdall_pipeline.loader import ledger_summary
from heimdall_pipeline.object_store import iter_metadata_objects, ledger_key

# Heimdall's SNR is a ratio of in-band to noise power over a 12.5 kHz recording: far below -30 dB
# nothing is detectable, above 80 dB the receiver would be saturated.
SNR_RANGE_DB = (-30.0, 80.0)
FINAL_STATUSES = ("loaded", "duplicate", "updated", "rejected", "missing", "failed")
LISTED_EXAMPLES = 20


@asset_check(
    asset=measurements,
    partitions_def=daily_partitions,
    description="Every active receiver in websdr_stations has measurements among the day's uploads (WARN).",
)
def all_receivers_reported(context: AssetCheckExecutionContext, timescale: TimescaleResource) -> AssetCheckResult:
    start, end = context.partition_time_window
    with timescale.connection() as conn:
        counts = receiver_counts(conn, start, end)
    missing = [c for c in counts if c.measurements == 0]
    table = "\n".join(f"| {c.websdr_id} | {c.name} | {c.measurements} |" for c in counts)
    return AssetCheckResult(
        passed=not missing,
        severity=AssetCheckSeverity.WARN,
        description=("missing: " + ", ".join(c.name for c in missing)) if missing else "all receivers reported",
        metadata={
            "missing receivers": MetadataValue.text(", ".join(c.name for c in missing) or "-"),
            "measurements per receiver": MetadataValue.md("| id | receiver | measurements |\n|---|---|---|\n" + table),
        },
    )


@asset_check(
    asset=measurements,
    partitions_def=daily_partitions,
    description=f"SNR of the day's loaded rows within {SNR_RANGE_DB[0]:g}..{SNR_RANGE_DB[1]:g} dB (WARN).",
)
def snr_in_plausible_range(context: AssetCheckExecutionContext, timescale: TimescaleResource) -> AssetCheckResult:
    start, end = context.partition_time_window
    with timescale.connection() as conn:
        found = snr_range(conn, start, end, *SNR_RANGE_DB)
    return AssetCheckResult(
        passed=found.out_of_range == 0,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "measurements": found.measurements,
            "out of range": found.out_of_range,
            "min snr_db": found.low,
            "max snr_db": found.high,
        },
    )


@asset_check(
    asset=measurements,
    partitions_def=daily_partitions,
    description="Frequency offset of the day's loaded rows within ±sample_rate/2 (WARN).",
)
def frequency_offset_within_band(context: AssetCheckExecutionContext, timescale: TimescaleResource) -> AssetCheckResult:
    start, end = context.partition_time_window
    with timescale.connection() as conn:
        found = frequency_offset_range(conn, start, end)
    return AssetCheckResult(
        passed=found.out_of_range == 0,
        severity=AssetCheckSeverity.WARN,
        metadata={
            "measurements": found.measurements,
            "out of range": found.out_of_range,
            "max |offset| Hz": found.high,
        },
    )


@asset_check(
    asset=measurements,
    partitions_def=daily_partitions,
    # Evaluated after measurements_hourly, so the rows that did load are aggregated before a
    # pending object fails the run (a blocking check would skip the aggregates instead).
    additional_deps=[measurements_hourly],
    description=(
        "Every metadata object uploaded on the day is in ingest_ledger with its current ETag and a final "
        "status: nothing pending, nothing unlisted (ERROR; fails the run after measurements_hourly so the "
        "sensor and run retries come back). Objects given up as 'failed' after repeated GET failures: WARN."
    ),
)
def no_object_unaccounted(
    context: AssetCheckExecutionContext, timescale: TimescaleResource, s3: HeimdallS3Resource, buckets: HeimdallBuckets
):
    start, end = context.partition_time_window
    in_bucket = list(iter_metadata_objects(s3.get_client(), buckets.raw, start, end))
    with timescale.connection() as conn:
        ledger = ledger_entries(conn, [o.key for o in in_bucket])
        summary = ledger_summary(conn, start, end)
    unlisted = [o.key for o in in_bucket if ledger.get(o.key, ("",))[0] != o.etag]
    pending = [
        o.key for o in in_bucket if ledger.get(o.key, ("",))[0] == o.etag and ledger[o.key][1] not in FINAL_STATUSES
    ]
    failed = [o.key for o in in_bucket if ledger.get(o.key, ("",)) == (o.etag, "failed")]
    examples = "\n".join(
        f"| `{ledger_key(key)}` | {why} |"
        for why, keys in (("not in ledger", unlisted), ("pending", pending), ("failed", failed))
        for key in keys[:LISTED_EXAMPLES]
    )
    unaccounted = len(unlisted) + len(pending)
    yield AssetCheckResult(
        passed=not unaccounted and not failed,
        severity=AssetCheckSeverity.ERROR if unaccounted else AssetCheckSeverity.WARN,
        description=(
            f"{len(unlisted)} not in the ledger, {len(pending)} pending, {len(failed)} failed (given up) "
            f"of {len(in_bucket)} objects"
        ),
        metadata={
            "objects in bucket": len(in_bucket),
            "not in ledger": len(unlisted),
            "pending": len(pending),
            "failed": len(failed),
            "missing (deleted after listing)": summary.get("missing", (0, 0))[0],
            "examples": MetadataValue.md("| key | state |\n|---|---|\n" + (examples or "| (none) | |")),
        },
    )
    if unaccounted:
        raise Failure(
            description=(
                f"{unaccounted} objects of the day are not accounted for ({len(pending)} pending, {len(unlisted)} "
                "not in the ledger): the rows that loaded are in and aggregated; the sensor requests another run "
                "for the pending ones"
            )
        )


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
    start, end = context.partition_time_window
    mismatches = []
    with timescale.connection() as conn:
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
    no_object_unaccounted,
    hourly_matches_measurements,
]
