from datetime import UTC, date, datetime, timedelta

import botocore.client
from dagster import build_sensor_context

from heimdall_pipeline.core.object_store import ObjectInfo
from heimdall_pipeline.defs.ingest.sensors import build_new_metadata_objects_sensor, new_metadata_objects_sensor
from heimdall_pipeline.devtools.sample_data import generate_day
from heimdall_pipeline.ingest.discovery import DiscoveryCursor, DiscoveryPlan, discover, event_requests
from heimdall_pipeline.ingest.loader import LISTED_BY_EVENTS, record_listed
from heimdall_pipeline_tests.defs.conftest import discover_uploads, put_uploaded_at, run_chain, store_uploaded_at


def tick(sensor, resources, cursor=None):
    return sensor(build_sensor_context(cursor=cursor, resources=resources))


def requested_keys(result) -> dict[str, int]:
    return {r.partition_key: int(r.tags["heimdall/new_objects"]) for r in result.run_requests}


def start_of_test_uploads() -> datetime:
    # A fixed hour within the partitions (today or yesterday), whatever the clock says.
    return (datetime.now(UTC) - timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)


def test_sensor_over_several_ticks(resources, s3, bucket, db):
    base = start_of_test_uploads()
    day = base.date().isoformat()

    first = tick(new_metadata_objects_sensor, resources)
    assert first.run_requests == [] and first.skip_reason is not None
    assert DiscoveryCursor.load(first.cursor).passes == 1

    batch = generate_day(base.date(), sessions=4, seed=1)
    put_uploaded_at(s3, bucket, batch, base, with_iq=True)  # the .npy recordings are not requested
    second = tick(new_metadata_objects_sensor, resources, first.cursor)
    assert requested_keys(second) == {day: len(batch)}
    assert second.run_requests[0].tags["heimdall/discovered_by"] == "reconciliation"
    # Recorded as pending at once: the run takes them from the ledger, and no tick requests them twice.
    assert db.execute("SELECT count(*) FROM ingest_ledger WHERE status = 'pending'").fetchone()[0] == len(batch)
    assert tick(new_metadata_objects_sensor, resources, second.cursor).run_requests == []

    # An object stamped before everything already seen (clock skew, a slow multipart upload),
    # and whose key sorts anywhere: found on the next tick all the same.
    straggler = generate_day(base.date(), sessions=1, seed=2)[:1]
    put_uploaded_at(s3, bucket, straggler, base - timedelta(hours=2))
    found = tick(new_metadata_objects_sensor, resources, second.cursor)
    straggler_day = (base - timedelta(hours=2)).date().isoformat()
    assert requested_keys(found) == {straggler_day: 1}
    assert found.run_requests[0].run_key.startswith(f"listed:{straggler_day}:")
    # A replay of the same tick finds it in the ledger: nothing launched twice (a tick that died after
    # recording is covered by the pending retries, test_get_failures).
    assert tick(new_metadata_objects_sensor, resources, second.cursor).run_requests == []


def test_a_whole_pass_in_bounded_slices_reports_what_it_found(resources, bucket, db):
    base = start_of_test_uploads() - timedelta(days=1)
    objects = generate_day(base.date(), sessions=300, miss_rate=0, seed=5)  # 2,100 metadata objects
    store_uploaded_at(bucket, objects, base, spacing=0.25)
    sensor = build_new_metadata_objects_sensor(pages_per_tick=1, events=False)

    counts, cursor = [], None
    for _ in range(3):
        result = tick(sensor, resources, cursor)
        counts.append(sum(requested_keys(result).values()))
        cursor = result.cursor
        assert len(cursor) < 300  # the cursor no longer grows with what is in flight
    assert counts == [1_000, 1_000, 100]  # one LIST page per tick, each recorded at once
    state = DiscoveryCursor.load(cursor)
    assert (state.passes, state.found_last_pass, state.start_after) == (1, 2_100, "")
    assert {key for (key,) in db.execute("SELECT object_key FROM ingest_ledger")} == {o.key for o in objects}

    for _ in range(3):  # the next pass: everything is known, nothing requested, nothing found
        result = tick(sensor, resources, cursor)
        assert result.run_requests == []
        cursor = result.cursor
    assert DiscoveryCursor.load(cursor).found_last_pass == 0


def test_one_tick_costs_at_most_its_pages_of_list_requests(db, s3, bucket):
    base = start_of_test_uploads()
    store_uploaded_at(bucket, generate_day(base.date(), sessions=500, miss_rate=0, seed=6), base, spacing=0.1)
    calls = []
    s3.meta.events.register("before-call.s3.ListObjectsV2", lambda **kwargs: calls.append(1))
    window = {"first_day": date(2025, 1, 1), "last_day": datetime.now(UTC).date()}
    plan = discover(db, s3, bucket, DiscoveryCursor(), pages=2, **window)
    assert len(calls) == 2 and plan.listed == 2_000 and plan.new == 2_000 and plan.pages == 2
    rest = discover(db, s3, bucket, plan.cursor, pages=2, **window)
    assert len(calls) == 4 and rest.listed == 1_500 and rest.cursor.passes == 1 and rest.cursor.start_after == ""
    assert discover(db, s3, bucket, rest.cursor, pages=0, **window).pages == 0 and len(calls) == 4


def test_a_partition_run_issues_no_list_request(resources, s3, bucket, monkeypatch):
    base = start_of_test_uploads()
    put_uploaded_at(s3, bucket, generate_day(base.date(), sessions=5, seed=8), base, with_iq=True)
    discover_uploads(resources)
    operations: list[str] = []
    make_call = botocore.client.BaseClient._make_api_call

    def counting(self, operation_name, api_params):
        operations.append(operation_name)
        return make_call(self, operation_name, api_params)

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", counting)
    result = run_chain(resources, base.date().isoformat(), discover=False)
    assert result.success
    assert operations and not [op for op in operations if op.startswith("ListObject")]
    assert set(operations) == {"GetObject"}  # one GET per metadata object, nothing else


def _event_entry(key: str, at: datetime) -> ObjectInfo:
    return ObjectInfo(key, "etag-1", 100, at)


def test_entries_the_consumer_recorded_are_requested_once_each(db):
    at = start_of_test_uploads()
    window = {"first_day": date(2025, 1, 1), "last_day": at.date()}
    record_listed(db, [_event_entry("sessions/a/websdr_1_metadata.json", at)], listed_by=LISTED_BY_EVENTS)
    record_listed(db, [_event_entry("sessions/b/websdr_1_metadata.json", at)])  # the listing's: not this path

    # Not yet settled: a transaction stamped just now may still be open, so it waits for a later tick.
    early = event_requests(db, DiscoveryPlan(cursor=DiscoveryCursor()), **window)
    assert early.requests == [] and early.cursor.events_until is not None

    settled = event_requests(db, DiscoveryPlan(cursor=early.cursor), settle=timedelta(0), **window)
    assert [(r.day, r.objects, r.source) for r in settled.requests] == [(at.date(), 1, "events")]
    again = event_requests(db, DiscoveryPlan(cursor=settled.cursor), settle=timedelta(0), **window)
    assert again.requests == [] and again.from_events == 0
