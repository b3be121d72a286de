"""`new_metadata_objects_sensor`: requests an ingest run for each upload day that has new objects.

The discovery logic (watermark, skew window, ledger, in-flight set, per-tick cap) is plain Python in
heimdall_pipeline.new_objects; this module wires it to Dagster.
"""

from datetime import datetime, timedelta, timezone

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from heimdall_pipeline.defs.ingest_assets import ingest_job
from heimdall_pipeline.defs.partitions import daily_partitions
from heimdall_pipeline.defs.resources import HeimdallBuckets, HeimdallS3Resource, TimescaleResource
from heimdall_pipeline.new_objects import (
    DEFAULT_MAX_IN_FLIGHT,
    DEFAULT_MAX_OBJECTS_PER_TICK,
    DEFAULT_SKEW,
    DiscoveryCursor,
    discover,
)

SENSOR_INTERVAL_SECONDS = 60


def build_new_metadata_objects_sensor(
    *,
    name: str = "new_metadata_objects_sensor",
    skew: timedelta = DEFAULT_SKEW,
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
            "Lists sessions/ every minute and requests an ingest_job run per upload day for metadata objects "
            f"not yet in ingest_ledger (LastModified since the watermark minus {skew}; at most "
            f"{max_objects_per_tick} objects per tick)."
        ),
    )
    def _sensor(
        context: SensorEvaluationContext,
        timescale: TimescaleResource,
        s3: HeimdallS3Resource,
        buckets: HeimdallBuckets,
    ) -> SensorResult:
        cursor = DiscoveryCursor.load(context.cursor)
        today = datetime.now(timezone.utc).date()
        with timescale.connection() as conn:
            plan = discover(
                conn,
                s3.get_client(),
                buckets.raw,
                cursor,
                first_day=daily_partitions.start.date(),
                last_day=today,
                skew=skew,
                max_objects=max_objects_per_tick,
                max_in_flight=max_in_flight,
            )
        context.log.info(plan.summary())
        for info in plan.outside_partitions[:10]:
            context.log.warning(f"{info.key} was uploaded {info.last_modified}, before the first partition")
        run_requests = [
            RunRequest(
                partition_key=request.day.isoformat(),
                run_key=request.run_key,
                tags={"heimdall/new_objects": str(len(request.objects))},
            )
            for request in plan.requests
        ]
        return SensorResult(
            run_requests=run_requests,
            skip_reason=None if run_requests else plan.summary(),
            cursor=plan.cursor.dump(),
        )

    return _sensor


new_metadata_objects_sensor = build_new_metadata_objects_sensor()
