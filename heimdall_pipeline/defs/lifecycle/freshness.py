"""Freshness of the data as asset checks: `uploads_arriving` on minio_metadata and
`receivers_heard_recently` on measurements (heimdall_pipeline.lifecycle.freshness decides), run by
`freshness_checks_job` (the two checks only, no materialization) on `freshness_schedule`. A stale
stream shows as a failed check in the UI, and alerts_sensor reports it once.

The checks are about now, not about a partition: ingest_job leaves them out (their keys,
FRESHNESS_CHECK_KEYS, are defined beside it), so a day's run neither reports today's freshness nor
fails because of it.
"""

from collections.abc import Callable

import psycopg
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetSelection,
    DefaultScheduleStatus,
    ScheduleDefinition,
    asset_check,
    define_asset_job,
    in_process_executor,
)

from heimdall_pipeline.defs.ingest.assets import FRESHNESS_CHECK_KEYS
from heimdall_pipeline.defs.ingest.checks import check_result
from heimdall_pipeline.defs.resources import FreshnessThresholds, TimescaleResource
from heimdall_pipeline.ingest.checks import CheckOutcome
from heimdall_pipeline.lifecycle.freshness import receivers_heard, uploads_arriving

UPLOADS_CHECK_KEY, RECEIVERS_CHECK_KEY = FRESHNESS_CHECK_KEYS
FRESHNESS_CRON = "10 * * * *"  # hourly: a stream stale for N hours is reported within N + 1 hours


def freshness_check(
    key: AssetCheckKey, evaluate: Callable[[psycopg.Connection, int], CheckOutcome], hours: str, description: str
) -> AssetChecksDefinition:
    """The check `key`: `evaluate(conn, threshold)`, the threshold being the `hours` field of the
    `freshness` resource."""

    @asset_check(asset=key.asset_key, name=key.name, description=description)
    def check(
        context: AssetCheckExecutionContext, timescale: TimescaleResource, freshness: FreshnessThresholds
    ) -> AssetCheckResult:
        with timescale.connection() as conn:
            outcome = evaluate(conn, getattr(freshness.thresholds(), hours))
        context.log.info(outcome.description)
        return check_result(outcome)

    return check


uploads_arriving_check = freshness_check(
    UPLOADS_CHECK_KEY,
    uploads_arriving,
    "upload_hours",
    "The newest metadata object in ingest_ledger was uploaded at most HEIMDALL_FRESHNESS_UPLOAD_HOURS (6) hours "
    "ago (ERROR): otherwise Heimdall stopped uploading, or discovery stopped recording. About now, not a "
    "partition; run hourly by freshness_schedule.",
)
receivers_heard_recently = freshness_check(
    RECEIVERS_CHECK_KEY,
    receivers_heard,
    "receiver_hours",
    "Every station active now (websdr_station_versions) has a measurement within HEIMDALL_FRESHNESS_RECEIVER_HOURS "
    "(6) hours, counted from its last measurement, the start of its active period or the oldest data, whichever "
    "is latest (WARN). About now, not a partition; run hourly by freshness_schedule.",
)


freshness_checks_job = define_asset_job(
    "freshness_checks_job",
    selection=AssetSelection.checks(*FRESHNESS_CHECK_KEYS),
    executor_def=in_process_executor,
    description="The freshness checks alone (uploads arriving, every active receiver heard): no asset is materialized.",
)

freshness_schedule = ScheduleDefinition(
    name="freshness_schedule",
    job=freshness_checks_job,
    cron_schedule=FRESHNESS_CRON,
    execution_timezone="UTC",
    default_status=DefaultScheduleStatus.RUNNING,
    description="Hourly at :10: the freshness checks, so a stopped upload stream or a silent receiver shows (and alerts).",
)

FRESHNESS_CHECKS = [uploads_arriving_check, receivers_heard_recently]
FRESHNESS_JOBS = [freshness_checks_job]
FRESHNESS_SCHEDULES = [freshness_schedule]
