"""`new_metadata_objects_sensor`: requests an ingest run for each upload day that has new objects.

The discovery logic (a bounded slice of the listing per tick, the ledger, the in-flight set, the
per-tick cap) is plain Python in heimdall_pipeline.ingest.discovery; this module wires it to Dagster.
"""

from datetime import datetime, timezone

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

from heimdall_pipeline.defs.ingest.assets import ingest_job, measurements_hourly
from heimdall_pipeline.defs.partitions import daily_partitions
from heimdall_pipeline.defs.resources import HeimdallBuckets, HeimdallS3Resource, TimescaleResource
from heimdall_pipeline.core.object_store import ledger_key
from heimdall_pipeline.ingest.discovery import (
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_OBJECTS_PER_TICK,
    DEFAULT_MAX_PAGES_PER_TICK,
    MAX_RETRY_DAYS_PER_TICK,
    ScanCursor,
    discover,
    pending_retries,
)

# Upload → queryable row is at most one interval plus a run (README, "The sensor"): 30 s keeps
# that under a minute, and a tick is bounded work (one slice of the listing, a ledger query).
SENSOR_INTERVAL_SECONDS = 30
# measurements_hourly only needs this for hand-made materializations: once a minute is enough.
AUTOMATION_INTERVAL_SECONDS = 60


def build_new_metadata_objects_sensor(
    *,
    name: str = "new_metadata_objects_sensor",
    max_pages_per_tick: int = DEFAULT_MAX_PAGES_PER_TICK,
    max_objects_per_tick: int = DEFAULT_MAX_OBJECTS_PER_TICK,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    default_status: DefaultSensorStatus = DefaultSensorStatus.RUNNING,
) -> SensorDefinition:
    @sensor(
        name=name,
        job=ingest_job,
        minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
        default_status=default_status,
        description=(
            f"Every {SENSOR_INTERVAL_SECONDS} s, lists the next slice of sessions/ (at most "
            f"{max_pages_per_tick * 1000} keys) and requests an ingest_job run per upload day for the "
            f"metadata objects not yet in ingest_ledger with that ETag (at most {max_objects_per_tick} "
            "objects per tick); successive ticks cover the whole bucket, again and again. Also requests "
            f"one more run for each upload day (at most {MAX_RETRY_DAYS_PER_TICK} a tick) whose objects are "
            "still pending 15 minutes after their listing or last failed GET."
        ),
    )
    def _sensor(
        context: SensorEvaluationContext,
        timescale: TimescaleResource,
        s3: HeimdallS3Resource,
        buckets: HeimdallBuckets,
    ) -> SensorResult:
        cursor = ScanCursor.load(context.cursor)
        now = datetime.now(timezone.utc)
        with timescale.connection() as conn:
            plan = discover(
                conn,
                s3.get_client(),
                buckets.raw,
                cursor,
                now=now,
                first_day=daily_partitions.start.date(),
                last_day=now.date(),
                max_pages=max_pages_per_tick,
                max_objects=max_objects_per_tick,
                max_in_flight=max_in_flight,
            )
            retries = pending_retries(conn, now=now, first_day=daily_partitions.start.date(), last_day=now.date())
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
                tags={"heimdall/new_objects": str(len(request.objects))},
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
