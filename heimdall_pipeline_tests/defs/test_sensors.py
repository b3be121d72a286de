import json
from datetime import date, datetime, timedelta, timezone

from dagster import build_sensor_context, materialize

from heimdall_pipeline.defs.ingest_assets import measurements, minio_metadata
from heimdall_pipeline.defs.sensors import build_new_metadata_objects_sensor, new_metadata_objects_sensor
from heimdall_pipeline.new_objects import DiscoveryCursor, plan_discovery
from heimdall_pipeline.object_store import ObjectInfo
from heimdall_pipeline.sample_data import generate_day
from heimdall_pipeline_tests.conftest import backdate
from heimdall_pipeline_tests.defs.conftest import QUIET, put_uploaded_at, run_chain, store_uploaded_at


def tick(sensor, resources, cursor=None):
    return sensor(build_sensor_context(cursor=cursor, resources=resources))


def requested_keys(result) -> dict[str, int]:
    return {r.partition_key: int(r.tags["heimdall/new_objects"]) for r in result.run_requests}


def record_listing(resources, days):
    """What the first step of each requested run does: record the day's objects in the ledger."""
    for day in sorted(set(days)):
        materialize([minio_metadata], partition_key=day, resources=resources, run_config=QUIET)


def start_of_test_uploads() -> datetime:
    # A fixed hour within the partitions (today or yesterday), whatever the clock says.
    return (datetime.now(timezone.utc) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)


def test_sensor_over_several_ticks(resources, s3, bucket):
    base = start_of_test_uploads()
    day = base.date().isoformat()

    first = tick(new_metadata_objects_sensor, resources)
    assert first.run_requests == [] and first.skip_reason is not None
    assert DiscoveryCursor.load(first.cursor) == DiscoveryCursor()

    batch = generate_day(base.date(), sessions=4, seed=1)
    put_uploaded_at(s3, bucket, batch, base)
    second = tick(new_metadata_objects_sensor, resources, first.cursor)
    assert requested_keys(second) == {day: len(batch)}
    cursor = DiscoveryCursor.load(second.cursor)
    assert cursor.watermark == base + timedelta(seconds=len(batch) - 1)
    assert len(cursor.in_flight) == len(batch)

    # The run has not recorded them yet: nothing is requested twice.
    assert tick(new_metadata_objects_sensor, resources, second.cursor).run_requests == []

    # Once the run listed them they are the ledger's; the in-flight set empties.
    record_listing(resources, [day])
    settled = tick(new_metadata_objects_sensor, resources, second.cursor)
    assert settled.run_requests == []
    assert DiscoveryCursor.load(settled.cursor).in_flight == frozenset()

    # An object whose LastModified is older than the watermark, within the skew window.
    straggler = generate_day(base.date(), sessions=1, seed=2)[:1]
    put_uploaded_at(s3, bucket, straggler, cursor.watermark - timedelta(minutes=5))
    found = tick(new_metadata_objects_sensor, resources, settled.cursor)
    assert requested_keys(found) == {day: 1}
    assert DiscoveryCursor.load(found.cursor).watermark == cursor.watermark  # never moves back

    # Restarting from a saved cursor gives the same decision and the same run key.
    replay = tick(new_metadata_objects_sensor, resources, settled.cursor)
    assert [r.run_key for r in replay.run_requests] == [r.run_key for r in found.run_requests]
    assert found.run_requests[0].run_key.startswith(f"{day}:")


def test_object_older_than_the_skew_window_is_left_to_the_daily_run(resources, s3, bucket, db):
    base = start_of_test_uploads()
    put_uploaded_at(s3, bucket, generate_day(base.date(), sessions=2, seed=3), base)
    result = tick(new_metadata_objects_sensor, resources)
    watermark = DiscoveryCursor.load(result.cursor).watermark
    very_late = generate_day(base.date(), sessions=1, seed=4)[:1]
    put_uploaded_at(s3, bucket, very_late, watermark - timedelta(hours=1))

    assert tick(new_metadata_objects_sensor, resources, result.cursor).run_requests == []
    # ... the partition's own run (the daily schedule re-runs yesterday) lists by day and loads it.
    very_late_day = (watermark - timedelta(hours=1)).date().isoformat()
    assert run_chain(resources, very_late_day, selection=[minio_metadata, measurements]).success
    status = db.execute("SELECT status FROM ingest_ledger WHERE object_key = %s", [very_late[0].key]).fetchone()
    assert status == ("loaded",)


def test_thousands_of_objects_are_requested_in_bounded_ticks(resources, bucket):
    base = start_of_test_uploads() - timedelta(days=1)
    objects = generate_day(base.date(), sessions=300, seed=5)  # ~2,000 metadata objects
    store_uploaded_at(bucket, objects, base, spacing=0.25)  # all within one skew window (~13 min)
    sensor = build_new_metadata_objects_sensor(max_objects_per_tick=700, max_in_flight=1_600)

    seen: list[str] = []
    cursor = None
    counts = []
    for _ in range(4):
        result = tick(sensor, resources, cursor)
        counts.append(sum(requested_keys(result).values()))
        seen += [r.run_key for r in result.run_requests]
        cursor = result.cursor
        assert len(cursor) < 1_600 * 15 + 100  # bounded by the in-flight cap (15 bytes a digest)
    assert counts == [700, 700, 200, 0]  # the in-flight cap holds the fourth tick back

    record_listing(resources, [base.date().isoformat()])
    result = tick(sensor, resources, cursor)
    # Every object is now either in the ledger or was requested: nothing new, nothing missed.
    assert result.run_requests == []
    assert len(seen) == len(set(seen)) == 3
    assert DiscoveryCursor.load(result.cursor).in_flight == frozenset()
    assert DiscoveryCursor.load(result.cursor).watermark == max(
        base + timedelta(seconds=int(index * 0.25)) for index in range(len(objects))
    )  # S3 keeps LastModified to the second


def info(key: str, minute: int, etag: str = "e") -> ObjectInfo:
    return ObjectInfo(key, etag, 100, datetime(2025, 6, 10, 12, minute, tzinfo=timezone.utc))


def test_plan_requests_oldest_first_and_never_passes_what_it_left():
    listing = [info(f"sessions/{n}/websdr_1_metadata.json", 59 - n) for n in range(10)]
    plan = plan_discovery(listing, {}, DiscoveryCursor(), first_day=date(2025, 1, 1), last_day=date(2025, 6, 10),
                          max_objects=4)
    chosen = [o for request in plan.requests for o in request.objects]
    assert [o.last_modified.minute for o in chosen] == [50, 51, 52, 53]
    assert plan.cursor.watermark.minute == 53 and plan.deferred == 6

    following = plan_discovery(listing, {}, plan.cursor, first_day=date(2025, 1, 1), last_day=date(2025, 6, 10),
                               max_objects=4)
    assert [o.last_modified.minute for r in following.requests for o in r.objects] == [54, 55, 56, 57]


def test_plan_treats_a_changed_etag_as_new_and_skips_days_before_the_first_partition():
    changed = info("sessions/a/websdr_1_metadata.json", 1, etag="new")
    known = info("sessions/b/websdr_1_metadata.json", 2)
    ancient = ObjectInfo("sessions/c/websdr_1_metadata.json", "e", 1, datetime(2024, 1, 1, tzinfo=timezone.utc))
    ledger = {changed.key: ("old", "loaded"), known.key: ("e", "loaded")}
    plan = plan_discovery([changed, known, ancient], ledger, DiscoveryCursor(),
                          first_day=date(2025, 1, 1), last_day=date(2025, 6, 10))
    assert [o.key for r in plan.requests for o in r.objects] == [changed.key]
    assert plan.known == 1 and plan.outside_partitions == [ancient]
    assert plan.cursor.watermark == known.last_modified
    assert json.loads(plan.cursor.dump())["watermark"] == known.last_modified.isoformat()
