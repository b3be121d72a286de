import json
from collections import Counter
from datetime import date, timedelta

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.defs.ingest.assets import window_days
from heimdall_pipeline.devtools.sample_data import bad_objects, encode, generate_day
from heimdall_pipeline_tests.conftest import backdate
from heimdall_pipeline_tests.defs.conftest import (
    check_evaluations,
    discover_uploads,
    materialization_metadata,
    noon,
    put_uploaded_at,
    run_chain,
)

DAY = date(2025, 6, 10)


def ledger_statuses(db) -> Counter:
    return Counter(dict(db.execute("SELECT status, count(*) FROM ingest_ledger GROUP BY status").fetchall()))


def snapshot(db) -> dict[str, list]:
    return {
        "ledger": db.execute("SELECT * FROM ingest_ledger ORDER BY object_key").fetchall(),
        "measurements": db.execute("SELECT * FROM measurements ORDER BY task_id, websdr_id, timestamp_utc").fetchall(),
        "hourly": db.execute("SELECT * FROM measurements_hourly ORDER BY bucket, websdr_id, frequency_mhz").fetchall(),
    }


def test_window_days_of_one_and_several_partitions():
    start = noon(DAY).replace(hour=0)
    assert window_days(start, start + timedelta(days=1)) == [DAY]
    assert window_days(start, start + timedelta(days=3)) == [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]


def test_objects_are_requested_by_their_utc_upload_day():
    from datetime import timezone

    from heimdall_pipeline.core.object_store import ObjectInfo
    from heimdall_pipeline.ingest.discovery import DiscoveryCursor, DiscoveryPlan, _request_days

    start = noon(DAY).replace(hour=0)
    # 23:30 UTC, given at UTC+02:00 (01:30 the next day there): the UTC day counts.
    late_evening = ObjectInfo("a", "e1", 1, (start + timedelta(hours=23, minutes=30)).astimezone(timezone(timedelta(hours=2))))
    next_midnight = ObjectInfo("b", "e2", 1, start + timedelta(days=1))
    third_day = ObjectInfo("c", "e3", 1, start + timedelta(days=2, hours=5))

    plan = DiscoveryPlan(cursor=DiscoveryCursor())
    _request_days(plan, [late_evening, next_midnight, third_day], DAY, DAY + timedelta(days=1), "reconciliation", "listed")
    assert [(r.day, r.objects) for r in plan.requests] == [(DAY, 1), (DAY + timedelta(days=1), 1)]
    assert plan.future == 1  # the third day is not a partition yet


def test_chain_loads_a_realistic_day_with_bad_objects(resources, s3, bucket, db):
    good = generate_day(DAY, sessions=25)
    bad = bad_objects(DAY)
    put_uploaded_at(s3, bucket, good + bad, noon(DAY), with_iq=True)

    result = run_chain(resources, DAY.isoformat())

    assert result.success
    listing = materialization_metadata(result, "minio_metadata")[0]
    # Discovery recorded them all (the reconciliation); the run found them in the ledger, none pending after.
    assert (listing["objects"], listing["pending"], listing["recorded by the listing"]) == (len(good) + len(bad),) * 3
    loading = materialization_metadata(result, "measurements")[0]
    assert (loading["inserted"], loading["rejected"], loading["failed"]) == (len(good), len(bad), 0)
    assert loading["dagster/row_count"] == len(good)
    assert loading["measurement days touched"] == DAY.isoformat()
    assert ledger_statuses(db) == Counter({"loaded": len(good), "rejected": len(bad)})
    reasons = dict(db.execute("SELECT object_key, reason FROM ingest_ledger WHERE status = 'rejected'").fetchall())
    assert {key: reason.split(":")[0] for key, reason in reasons.items()} == {b.key: b.expected_rejection for b in bad}
    assert db.execute("SELECT count(*) FROM measurements").fetchone()[0] == len(good)
    hourly_total = db.execute("SELECT sum(measurement_count) FROM measurements_hourly").fetchone()[0]
    assert hourly_total == len(good)
    assert all(e.passed for e in check_evaluations(result).values())


def test_rematerializing_changes_nothing(resources, s3, bucket, db):
    put_uploaded_at(s3, bucket, generate_day(DAY, sessions=10) + bad_objects(DAY), noon(DAY))
    assert run_chain(resources, DAY.isoformat()).success
    before = snapshot(db)

    assert discover_uploads(resources).new == 0  # the second pass finds nothing new
    again = run_chain(resources, DAY.isoformat(), discover=False)

    assert again.success
    listing = materialization_metadata(again, "minio_metadata")[0]
    assert listing["pending"] == 0
    loading = materialization_metadata(again, "measurements")[0]
    assert (loading["objects"], loading["inserted"]) == (0, 0)
    assert loading["dagster/row_count"] == len(before["measurements"])  # ledger-based, not "this run"
    assert snapshot(db) == before


def test_late_upload_refreshes_the_hourly_aggregates_of_its_measurement_day(resources, s3, bucket, db):
    early = DAY - timedelta(days=3)
    put_uploaded_at(s3, bucket, generate_day(early, sessions=10, seed=1), noon(early))
    assert run_chain(resources, early.isoformat()).success
    hourly_before = db.execute(
        "SELECT sum(measurement_count) FROM measurements_hourly WHERE bucket::date = %s", [early]
    ).fetchone()[0]
    late = generate_day(early, sessions=2, seed=2)  # measured on DAY - 3 ...
    put_uploaded_at(s3, bucket, late + generate_day(DAY, sessions=3), noon(DAY))  # ... uploaded on DAY

    result = run_chain(resources, DAY.isoformat())

    assert result.success
    hourly = materialization_metadata(result, "measurements_hourly")[0]
    assert hourly["late days refreshed"] == early.isoformat()
    hourly_after = db.execute(
        "SELECT sum(measurement_count) FROM measurements_hourly WHERE bucket >= %s AND bucket < %s",
        [noon(early).replace(hour=0), noon(early).replace(hour=0) + timedelta(days=1)],
    ).fetchone()[0]
    assert hourly_after == hourly_before + len(late)
    assert check_evaluations(result)["hourly_matches_measurements"].passed


def spread_over_days(s3, bucket, days: list[date]) -> dict[date, list]:
    """A few sessions per day, uploaded that day; some measured the day before (late uploads)."""
    uploaded = {}
    for index, day in enumerate(days):
        objects = generate_day(day, sessions=4, seed=index) + generate_day(day - timedelta(days=1), sessions=1, seed=9 + index)
        put_uploaded_at(s3, bucket, objects, noon(day) + timedelta(hours=index))
        uploaded[day] = objects
    return uploaded


def test_every_object_is_loaded_by_exactly_one_partition(resources, s3, bucket, db):
    days = [DAY + timedelta(days=offset) for offset in range(3)]
    uploaded = spread_over_days(s3, bucket, days)
    total = sum(len(objects) for objects in uploaded.values())

    processed = Counter()
    for day in [days[1], days[0], days[2]]:  # in any order
        result = run_chain(resources, day.isoformat())
        assert result.success
        listing = materialization_metadata(result, "minio_metadata")[0]
        assert listing["objects"] == len(uploaded[day])
        processed[day] += materialization_metadata(result, "measurements")[0]["objects"]

    assert processed == Counter({day: len(objects) for day, objects in uploaded.items()})
    assert ledger_statuses(db) == Counter({"loaded": total})
    assert db.execute("SELECT count(*) FROM measurements").fetchone()[0] == total


def test_backfill_range_in_one_run(resources, s3, bucket, db):
    days = [DAY + timedelta(days=offset) for offset in range(3)]
    uploaded = spread_over_days(s3, bucket, days)
    total = sum(len(objects) for objects in uploaded.values())

    result = run_chain(
        resources,
        tags={
            "dagster/asset_partition_range_start": days[0].isoformat(),
            "dagster/asset_partition_range_end": days[-1].isoformat(),
        },
    )

    assert result.success
    # One listing for the whole window, recorded as a materialization of each day in the range.
    partitions = sorted(
        event.partition
        for event in result.get_asset_materialization_events()
        if event.materialization.asset_key.to_user_string() == "minio_metadata"
    )
    assert partitions == [day.isoformat() for day in days]
    # Each day's event carries that day's figures; the range's totals only under "run range: ".
    listings = materialization_metadata(result, "minio_metadata")
    assert [m["objects"] for m in listings] == [len(uploaded[day]) for day in days]
    assert [m["upload days"] for m in listings] == [day.isoformat() for day in days]
    assert {m["run range: objects"] for m in listings} == {total}
    assert [m["inserted"] for m in materialization_metadata(result, "measurements")] == [len(uploaded[day]) for day in days]
    hourly = materialization_metadata(result, "measurements_hourly")
    assert hourly[0]["run range: days refreshed"] == 4  # the three upload days and the day before the first
    assert [m["days refreshed"] for m in hourly] == [2, 2, 2]  # each upload day and the day before it
    assert ledger_statuses(db) == Counter({"loaded": total})
    assert db.execute("SELECT count(*) FROM measurements").fetchone()[0] == total
    evaluations = result.get_asset_check_evaluations()
    assert evaluations and all(e.passed for e in evaluations)


def test_a_late_object_for_an_archived_day_leaves_its_aggregates_alone(resources, s3, bucket, db, archiver_database_url):
    from heimdall_pipeline.lifecycle.retention import retire_day

    old = generate_day(DAY, sessions=3, seed=7)
    put_uploaded_at(s3, bucket, old, noon(DAY))
    assert run_chain(resources, DAY.isoformat()).success
    with connect(archiver_database_url, autocommit=True) as archiver:
        retire_day(archiver, s3, bucket, DAY)  # retention: archived, verified, dropped
    hourly_before = snapshot(db)["hourly"]

    late_day = DAY + timedelta(days=40)
    late = generate_day(DAY, sessions=1, seed=8, miss_rate=0)  # measured on DAY, uploaded 40 days later
    put_uploaded_at(s3, bucket, late, noon(late_day))
    result = run_chain(resources, late_day.isoformat())

    assert result.success
    assert {name: e.passed for name, e in check_evaluations(result).items() if not e.passed} == {}
    hourly = materialization_metadata(result, "measurements_hourly")[0]
    assert hourly["archived days left as they are"] == DAY.isoformat()
    assert snapshot(db)["hourly"] == hourly_before  # not replaced by the late rows alone


def test_a_new_version_moved_to_another_day_refreshes_both_days(resources, s3, bucket, db):
    objects = generate_day(DAY, sessions=3, miss_rate=0, seed=12)
    put_uploaded_at(s3, bucket, objects, noon(DAY))
    assert run_chain(resources, DAY.isoformat()).success
    hourly_count = "SELECT coalesce(sum(measurement_count), 0) FROM measurements_hourly WHERE bucket::date = %s"
    assert db.execute(hourly_count, [DAY]).fetchone()[0] == len(objects)

    # Heimdall rewrites one object the same day: its measurement time moves to the next day.
    document = json.loads(objects[0].body)
    document["timestamp_utc"] = f"{DAY + timedelta(days=1)}T01:00:00"
    document["metrics"]["snr_db"] = 33.0
    s3.put_object(Bucket=bucket, Key=objects[0].key, Body=encode(document))
    backdate(bucket, objects[0].key, noon(DAY) + timedelta(hours=2))

    result = run_chain(resources, DAY.isoformat())

    assert result.success
    loading = materialization_metadata(result, "measurements")[0]
    assert (loading["inserted"], loading["updated"], loading["dagster/row_count"]) == (0, 1, len(objects))
    assert db.execute("SELECT count(*) FROM measurements").fetchone()[0] == len(objects)
    assert db.execute(hourly_count, [DAY]).fetchone()[0] == len(objects) - 1
    assert db.execute(hourly_count, [DAY + timedelta(days=1)]).fetchone()[0] == 1
    assert ledger_statuses(db) == Counter({"loaded": len(objects) - 1, "updated": 1})
    assert all(e.passed for e in check_evaluations(result).values())
