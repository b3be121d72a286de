"""`new_metadata_objects_sensor`: requests an ingest run for each upload day that has new objects.

The discovery logic (the reconciliation's bounded slice of the listing, the entries the
notification consumer recorded, retries of pending objects) is plain Python in
heimdall_pipeline.ingest.discovery; this module wires it to Dagster.
"""

from datetime import UTC, datetime

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from heimdall_pipeline.core.object_store import ledger_key
from heimdall_pipeline.core.settings import EventSettings, reconcile_pages_per_tick
from heimdall_pipeline.defs.ingest.assets import ingest_job, measurements_hourly
from heimdall_pipeline.defs.partitions import daily_partitions
from heimdall_pipeline.defs.resources import HeimdallBuckets, HeimdallS3Resource, TimescaleResource
from heimdall_pipeline.ingest.discovery import (
    MAX_RETRY_DAYS_PER_TICK,
    DiscoveryCursor,
    discover,
    pending_retries,
)

# Without notifications, upload → queryable row is at most one interval plus a run: 30 s keeps that
# under a minute, and a tick is bounded work (one slice of the listing, two ledger queries). With
# them, the consumer has loaded the rows within seconds; the run this sensor requests then does the
# day's checks and aggregates.
SENSOR_INTERVAL_SECONDS = 30
# measurements_hourly only needs this for hand-made materializations: once a minute is enough.
AUTOMATION_INTERVAL_SECONDS = 60


def build_new_metadata_objects_sensor(
    *,
    name: str = "new_metadata_objects_sensor",
    pages_per_tick: int | None = None,
    events: bool | None = None,
    default_status: DefaultSensorStatus = DefaultSensorStatus.RUNNING,
) -> SensorDefinition:
    """`pages_per_tick` (default HEIMDALL_RECONCILE_PAGES_PER_TICK) and `events` (default: whether a
    notification source is configured) are read when the definitions load."""
    pages = reconcile_pages_per_tick() if pages_per_tick is None else pages_per_tick
    with_events = EventSettings.from_env().enabled if events is None else events

    @sensor(
        name=name,
        job=ingest_job,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=default_status,
        description=(
            f"Every {SENSOR_INTERVAL_SECONDS} s: reconciles the next slice of sessions/ with ingest_ledger "
            f"({pages} LIST page(s), {pages * 1000} keys; successive ticks cover the whole bucket, again and "
            "again) and requests an ingest_job run per upload day that got new or changed objects"
            + ("; the same for the objects the notification consumer (heimdall-events) recorded" if with_events else "")
            + f". Also requests one more run for each upload day (at most {MAX_RETRY_DAYS_PER_TICK} a tick) whose "
            "objects are still pending 15 minutes after their listing or last failed GET."
        ),
    )
    def _sensor(
        context: SensorEvaluationContext,
        timescale: TimescaleResource,
        s3: HeimdallS3Resource,
        buckets: HeimdallBuckets,
    ) -> SensorResult:
        cursor = DiscoveryCursor.load(context.cursor)
        now = datetime.now(UTC)
        first_day, last_day = daily_partitions.start.date(), now.date()
        with timescale.connection() as conn:
            plan = discover(
                conn,
                s3.get_client(),
                buckets.raw,
                cursor,
                first_day=first_day,
                last_day=last_day,
                pages=pages,
                events=with_events,
            )
            retries = pending_retries(conn, now=now, first_day=first_day, last_day=last_day)
        requested_days = {request.day for request in plan.requests}
        retries = [r for r in retries if r.day not in requested_days]  # that day's run loads them anyway
        context.log.info(plan.summary())
        if retries:
            context.log.info(
                "retrying pending objects: "
                + ", ".join(f"{r.day}: {r.objects} pending (up to {r.attempts} failed attempts)" for r in retries)
            )
        for info in plan.outside_partitions[:10]:
            context.log.warning(f"{ledger_key(info.key)} was uploaded {info.last_modified}, before the first partition")
        run_requests = [
            RunRequest(
                partition_key=request.day.isoformat(),
                run_key=request.run_key,
                tags={"heimdall/new_objects": str(request.objects), "heimdall/discovered_by": request.source},
            )
            for request in plan.requests
        ]
        run_requests += [
            RunRequest(
                partition_key=retry.day.isoformat(),
                run_key=retry.run_key,
                tags={"heimdall/retry_pending": str(retry.objects)},
            )
            for retry in retries
        ]
        return SensorResult(
            run_requests=run_requests,
            skip_reason=None if run_requests else plan.summary(),
            cursor=plan.cursor.dump(),
        )

    return _sensor


new_metadata_objects_sensor = build_new_metadata_objects_sensor()


# measurements_hourly's eager automation condition (it follows a `measurements` materialized by
# hand) only acts while an automation condition sensor runs, and Dagster's default one starts
# STOPPED: this one covers the ingest chain and is RUNNING by default.
hourly_automation_sensor = AutomationConditionSensorDefinition(
    "hourly_automation_sensor",
    target=AssetSelection.assets(measurements_hourly),
    default_status=DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=AUTOMATION_INTERVAL_SECONDS,
    description="Materializes measurements_hourly for a day whose measurements were materialized outside ingest_job.",
)

INGEST_SENSORS = [new_metadata_objects_sensor, hourly_automation_sensor]
