from datetime import date, datetime, timedelta, timezone

from dagster import build_sensor_context, materialize

from heimdall_pipeline.defs.ingest.assets import minio_metadata
from heimdall_pipeline.defs.ingest.sensors import build_new_metadata_objects_sensor, new_metadata_objects_sensor
from heimdall_pipeline.ingest.discovery import ScanCursor, discover, object_digest, plan_discovery
from heimdall_pipeline.core.object_store import ObjectInfo
from heimdall_pipeline.devtools.sample_data import generate_day
from heimdall_pipeline_tests.defs.conftest import QUIET, put_uploaded_at, store_uploaded_at


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
    assert ScanCursor.load(first.cursor) == ScanCursor(start_after="", passes=1, in_flight={})

    batch = generate_day(base.date(), sessions=4, seed=1)
    put_uploaded_at(s3, bucket, batch, base, with_iq=True)  # the .npy recordings are not requested
    second = tick(new_metadata_objects_sensor, resources, first.cursor)
    assert requested_keys(second) == {day: len(batch)}
    assert len(ScanCursor.load(second.cursor).in_flight) == len(batch)

    # The run has not recorded them yet: nothing is requested twice.
    assert tick(new_metadata_objects_sensor, resources, second.cursor).run_requests == []

    # Once the run listed them they are the ledger's; the in-flight set empties.
    record_listing(resources, [day])
    settled = tick(new_metadata_objects_sensor, resources, second.cursor)
    assert settled.run_requests == []
    assert ScanCursor.load(settled.cursor).in_flight == {}

    # An object stamped before everything already seen (clock skew, a slow multipart upload),
    # and whose key sorts before the others: found on the next tick all the same.
    straggler = generate_day(base.date(), sessions=1, seed=2)[:1]
    put_uploaded_at(s3, bucket, straggler, base - timedelta(hours=2))
    found = tick(new_metadata_objects_sensor, resources, settled.cursor)
    straggler_day = (base - timedelta(hours=2)).date().isoformat()
    assert requested_keys(found) == {straggler_day: 1}

    # Restarting from a saved cursor gives the same decision and the same run key.
    replay = tick(new_metadata_objects_sensor, resources, settled.cursor)
    assert [r.run_key for r in replay.run_requests] == [r.run_key for r in found.run_requests]
    assert found.run_requests[0].run_key.startswith(f"{straggler_day}:")


def test_a_failed_run_is_requested_again_after_the_in_flight_timeout(resources, s3, bucket):
    base = start_of_test_uploads()
    put_uploaded_at(s3, bucket, generate_day(base.date(), sessions=1, seed=3), base)
    first = tick(new_metadata_objects_sensor, resources)
    assert len(first.run_requests) == 1
    # The run failed before recording anything; two hours later the request has timed out.
    cursor = ScanCursor.load(first.cursor)
    aged = ScanCursor(cursor.start_after, cursor.passes, {d: t - 3 * 3600 for d, t in cursor.in_flight.items()})
    again = tick(new_metadata_objects_sensor, resources, aged.dump())
    assert len(again.run_requests) == 1
    assert again.run_requests[0].run_key != first.run_requests[0].run_key  # Dagster launches it


def test_thousands_of_objects_are_scanned_in_bounded_slices(resources, bucket, db, s3):
    base = start_of_test_uploads() - timedelta(days=1)
    objects = generate_day(base.date(), sessions=300, miss_rate=0, seed=5)  # 2,100 metadata objects
    store_uploaded_at(bucket, objects, base, spacing=0.25)
    sensor = build_new_metadata_objects_sensor(max_pages_per_tick=1, max_objects_per_tick=700, max_in_flight=1_600)

    run_keys: list[str] = []
    requested: set[str] = set()
    cursor = None
    counts = []
    for _ in range(4):
        result = tick(sensor, resources, cursor)
        counts.append(sum(requested_keys(result).values()))
        run_keys += [r.run_key for r in result.run_requests]
        cursor = result.cursor
        requested |= set(ScanCursor.load(cursor).in_flight)
        assert len(cursor) < 1_600 * 30 + 200  # bounded by the in-flight cap (~27 bytes an entry)
    assert counts == [700, 700, 200, 0]  # one LIST page per tick; the in-flight cap holds the fourth back

    record_listing(resources, [base.date().isoformat()])
    for _ in range(4):  # a full pass: every slice is checked against the ledger
        result = tick(sensor, resources, cursor)
        assert result.run_requests == []
        cursor = result.cursor
    assert ScanCursor.load(cursor).in_flight == {}
    # Every object was requested or is in the ledger: nothing missed, no run requested twice.
    in_ledger = {key for (key,) in db.execute("SELECT object_key FROM ingest_ledger")}
    assert {o.key for o in objects} == in_ledger
    assert len(requested) == 1_600 and len(run_keys) == len(set(run_keys)) == 3


def test_one_tick_costs_at_most_max_pages_list_requests(db, s3, bucket):
    base = start_of_test_uploads()
    store_uploaded_at(bucket, generate_day(base.date(), sessions=500, miss_rate=0, seed=6), base, spacing=0.1)
    calls = []
    s3.meta.events.register("before-call.s3.ListObjectsV2", lambda **kwargs: calls.append(1))
    now = datetime.now(timezone.utc)
    plan = discover(db, s3, bucket, ScanCursor(), now=now, first_day=date(2025, 1, 1), last_day=now.date(),
                    max_pages=2, max_objects=10_000)
    assert len(calls) == 2 and plan.scanned == 2_000 and plan.new == 2_000
    assert plan.cursor.start_after == max(o.key for r in plan.requests for o in r.objects)
    rest = discover(db, s3, bucket, plan.cursor, now=now, first_day=date(2025, 1, 1), last_day=now.date(),
                    max_pages=2, max_objects=10_000)
    assert len(calls) == 4 and rest.scanned == 1_500 and rest.cursor == ScanCursor("", 1, rest.cursor.in_flight)


NOW = datetime(2025, 6, 10, 13, 0, tzinfo=timezone.utc)


def info(key: str, minute: int, etag: str = "e") -> ObjectInfo:
    return ObjectInfo(key, etag, 100, datetime(2025, 6, 10, 12, minute, tzinfo=timezone.utc))


def plan(scanned, ledger=None, cursor=None, *, reached_end=True, **caps):
    return plan_discovery(scanned, ledger or {}, cursor or ScanCursor(), slice_end=scanned[-1].key if scanned else None,
                          reached_end=reached_end, now=NOW, first_day=date(2025, 1, 1), last_day=date(2025, 6, 10),
                          **caps)


def test_plan_resumes_just_before_what_the_cap_left():
    scanned = [info(f"sessions/{n:02d}/websdr_1_metadata.json", 59 - n) for n in range(10)]
    first = plan(scanned, max_objects=4)
    assert [o.key[9:11] for r in first.requests for o in r.objects] == ["00", "01", "02", "03"]
    assert first.cursor.start_after == scanned[3].key and first.deferred == 6 and first.cursor.passes == 0
    following = plan(scanned[4:], cursor=first.cursor, max_objects=4)
    assert [o.key[9:11] for r in following.requests for o in r.objects] == ["04", "05", "06", "07"]


def test_plan_treats_a_changed_etag_as_new_and_skips_days_outside_the_partitions():
    changed = info("sessions/a/websdr_1_metadata.json", 1, etag="new")
    known = info("sessions/b/websdr_1_metadata.json", 2)
    ancient = ObjectInfo("sessions/c/websdr_1_metadata.json", "e", 1, datetime(2024, 1, 1, tzinfo=timezone.utc))
    future = ObjectInfo("sessions/d/websdr_1_metadata.json", "e", 1, datetime(2025, 6, 11, 0, 5, tzinfo=timezone.utc))
    result = plan([changed, known, ancient, future], {changed.key: ("old", "loaded"), known.key: ("e", "loaded")})
    assert [o.key for r in result.requests for o in r.objects] == [changed.key]
    assert (result.known, result.future, result.outside_partitions) == (1, 1, [ancient])
    assert result.cursor.start_after == "" and result.cursor.passes == 1  # the pass is complete


def test_plan_forgets_requests_after_the_timeout_and_keeps_recent_ones():
    obj = info("sessions/a/websdr_1_metadata.json", 1)
    recent = ScanCursor(in_flight={object_digest(obj): int(NOW.timestamp()) - 60})
    assert plan([obj], cursor=recent).requests == []
    stale = ScanCursor(in_flight={object_digest(obj): int((NOW - timedelta(hours=3)).timestamp())})
    result = plan([obj], cursor=stale)
    assert result.expired == 1 and [o.key for r in result.requests for o in r.objects] == [obj.key]
