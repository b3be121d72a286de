"""GET failures through Dagster: retried and counted in the metadata; a GET that no retry cures
leaves its object pending, the hourly aggregates still refresh what loaded, no_object_unaccounted
reports the object and the run fails; the sensor and the daily schedule come back for it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dagster import build_schedule_context

from heimdall_pipeline.defs.ingest.schedules import daily_ingest_schedule
from heimdall_pipeline.defs.ingest.sensors import new_metadata_objects_sensor
from heimdall_pipeline.defs.resources import HeimdallS3Resource
from heimdall_pipeline.devtools.sample_data import generate_day
from heimdall_pipeline_tests.defs.conftest import (
    check_evaluations,
    discover_uploads,
    materialization_metadata,
    put_uploaded_at,
    run_chain,
)
from heimdall_pipeline_tests.defs.ingest.test_sensors import start_of_test_uploads, tick
from heimdall_pipeline_tests.faulty_s3_proxy import FaultyS3Proxy


def through(resources, proxy: FaultyS3Proxy) -> dict:
    s3 = resources["s3"]
    return {
        **resources,
        "s3": HeimdallS3Resource(
            endpoint_url=proxy.url,
            region_name=s3.region_name,
            aws_access_key_id=s3.aws_access_key_id,
            aws_secret_access_key=s3.aws_secret_access_key,
        ),
    }


def statuses(db) -> dict[str, int]:
    return dict(db.execute("SELECT status, count(*) FROM ingest_ledger GROUP BY status").fetchall())


def test_one_run_loads_everything_with_thirty_percent_of_gets_failing(resources, s3, bucket, db, s3_endpoint_url):
    uploaded_at = start_of_test_uploads()
    objects = generate_day(uploaded_at.date(), sessions=20, seed=4)
    put_uploaded_at(s3, bucket, objects, uploaded_at)

    with FaultyS3Proxy(s3_endpoint_url, failure_rate=0.3, seed=7) as proxy:
        result = run_chain(through(resources, proxy), uploaded_at.date().isoformat())

    assert result.success
    loading = materialization_metadata(result, "measurements")[0]
    assert (loading["inserted"], loading["failed"], loading["pending"]) == (len(objects), 0, 0)
    # Every fault costs one retry; botocore retries 5xx and resets itself (and reports them), the
    # pipeline retries bodies cut short. A retry botocore made before giving up goes unreported.
    assert proxy.faults["truncated"] <= loading["GET retries"] <= proxy.injected
    assert proxy.injected >= 0.2 * len(objects) and loading["GET retries"] > proxy.faults["truncated"]
    assert statuses(db) == {"loaded": len(objects)}
    assert db.execute("SELECT sum(measurement_count) FROM measurements_hourly").fetchone()[0] == len(objects)
    assert all(e.passed for e in check_evaluations(result).values())


def test_a_failed_get_fails_the_run_after_the_hourly_aggregates_and_the_check_names_it(
    resources, s3, bucket, db, s3_endpoint_url
):
    uploaded_at = start_of_test_uploads()
    day = uploaded_at.date().isoformat()
    objects = generate_day(uploaded_at.date(), sessions=3, seed=5, miss_rate=0)
    put_uploaded_at(s3, bucket, objects, uploaded_at)
    denied = objects[0].key.split("/", 1)[1]

    with FaultyS3Proxy(s3_endpoint_url, denied_keys=frozenset({denied})) as proxy:
        result = run_chain(through(resources, proxy), day, raise_on_error=False)

    assert not result.success
    loading = materialization_metadata(result, "measurements")[0]
    assert (loading["inserted"], loading["failed"], loading["pending"]) == (len(objects) - 1, 1, 1)
    assert objects[0].key in loading["failures (first)"]
    # The rows that loaded are aggregated all the same.
    assert materialization_metadata(result, "measurements_hourly")[0]["dagster/row_count"] > 0
    assert db.execute("SELECT sum(measurement_count) FROM measurements_hourly").fetchone()[0] == len(objects) - 1
    check = check_evaluations(result)["no_object_unaccounted"]
    assert not check.passed and check.severity.value == "ERROR"
    assert check.metadata["pending"].value == 1 and objects[0].key in check.metadata["examples"].value
    assert check_evaluations(result)["hourly_matches_measurements"].passed
    failed_steps = [e.step_key for e in result.all_events if e.is_step_failure]
    assert failed_steps == ["measurements_no_object_unaccounted"]
    assert statuses(db) == {"loaded": len(objects) - 1, "pending": 1}

    # The next run, with the object readable again, settles the day.
    again = run_chain(resources, day)
    assert again.success and statuses(db) == {"loaded": len(objects)}


def test_the_sensor_requests_a_run_for_a_day_whose_objects_stay_pending(resources, s3, bucket, db):
    uploaded_at = start_of_test_uploads()
    day = uploaded_at.date().isoformat()
    objects = generate_day(uploaded_at.date(), sessions=2, seed=6)
    put_uploaded_at(s3, bucket, objects, uploaded_at)
    discover_uploads(resources)  # recorded by discovery; its run failed before loading: all pending
    settled = tick(new_metadata_objects_sensor, resources)
    assert settled.run_requests == []  # pending for less than 15 minutes: its run may still be going

    db.execute("UPDATE ingest_ledger SET listed_at = now() - interval '20 minutes'")
    db.commit()
    retry = tick(new_metadata_objects_sensor, resources, settled.cursor)

    assert [(r.partition_key, r.tags["heimdall/retry_pending"]) for r in retry.run_requests] == [(day, str(len(objects)))]
    assert retry.run_requests[0].run_key.startswith(f"retry:{day}:")
    replay = tick(new_metadata_objects_sensor, resources, settled.cursor)
    assert [r.run_key for r in replay.run_requests] == [r.run_key for r in retry.run_requests]  # no second run


def test_the_sensor_requests_a_missing_object_that_is_back(resources, s3, bucket, db):
    uploaded_at = start_of_test_uploads()
    day = uploaded_at.date().isoformat()
    objects = generate_day(uploaded_at.date(), sessions=1, seed=8, miss_rate=0)
    put_uploaded_at(s3, bucket, objects, uploaded_at)
    assert run_chain(resources, day).success
    db.execute("UPDATE ingest_ledger SET status = 'missing', reason = 'missing: test' WHERE object_key = %s", (objects[0].key,))
    db.commit()

    found = tick(new_metadata_objects_sensor, resources)

    assert [(r.partition_key, r.tags["heimdall/new_objects"]) for r in found.run_requests] == [(day, "1")]
    assert db.execute("SELECT status FROM ingest_ledger WHERE object_key = %s", (objects[0].key,)).fetchone() == ("pending",)


def test_the_daily_schedule_also_retries_older_days_with_pending_objects(resources, s3, bucket, db):
    now = datetime.now(UTC)
    older = (now - timedelta(days=5)).replace(hour=12, minute=0, second=0, microsecond=0)
    put_uploaded_at(s3, bucket, generate_day(older.date(), sessions=1, seed=9, miss_rate=0), older)
    discover_uploads(resources)  # recorded, never loaded: pending

    tick_time = now.replace(hour=0, minute=15, second=0, microsecond=0)
    context = build_schedule_context(scheduled_execution_time=tick_time, resources={"timescale": resources["timescale"]})
    requests = daily_ingest_schedule(context)

    yesterday = (tick_time - timedelta(days=1)).date().isoformat()
    assert [(r.partition_key, r.run_key) for r in requests] == [
        (yesterday, f"daily:{yesterday}"),
        (older.date().isoformat(), f"daily:{tick_time.date()}:pending:{older.date()}"),
    ]
    assert requests[1].tags["heimdall/retry_pending"] == "7"


def test_an_object_deleted_after_the_listing_no_longer_fails_its_day(resources, s3, bucket, db):
    uploaded_at = start_of_test_uploads()
    day = uploaded_at.date().isoformat()
    objects = generate_day(uploaded_at.date(), sessions=2, seed=10, miss_rate=0)
    put_uploaded_at(s3, bucket, objects, uploaded_at)
    discover_uploads(resources)  # recorded ...
    s3.delete_object(Bucket=bucket, Key=objects[0].key)  # ... then deleted by Heimdall

    result = run_chain(resources, day, discover=False)

    assert result.success
    loading = materialization_metadata(result, "measurements")[0]
    assert (loading["missing"], loading["inserted"], loading["pending"]) == (1, len(objects) - 1, 0)
    check = check_evaluations(result)["no_object_unaccounted"]
    assert check.passed and check.metadata["missing (deleted)"].value == 1
    assert db.execute("SELECT sum(measurement_count) FROM measurements_hourly").fetchone()[0] == len(objects) - 1
    assert statuses(db) == {"loaded": len(objects) - 1, "missing": 1}
    assert run_chain(resources, day, discover=False).success  # and on every later run
