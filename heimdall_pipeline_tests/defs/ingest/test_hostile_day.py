"""A day that mixes every kind of the hostile corpus with good objects, through the Dagster ingest
chain, twice: both runs succeed, every good row is there with its values, every object ends with
a final status and a short reason that starts with its expected code, and nothing hostile is loaded."""

from __future__ import annotations

from collections import Counter
from datetime import date

from heimdall_pipeline.defs.resources import HeimdallS3Resource
from heimdall_pipeline.devtools.sample_data import generate_day
from heimdall_pipeline.ingest.measurement import MAX_REASON_CHARS, parse_metadata_object
from heimdall_pipeline_tests.defs.conftest import (
    check_evaluations,
    materialization_metadata,
    noon,
    put_uploaded_at,
    run_chain,
)
from heimdall_pipeline_tests.hostile_corpus import hostile_objects

DAY = date(2026, 11, 28)
ROW_COLUMNS = (
    "task_id, websdr_id, frequency_mhz, sample_rate_khz, samples_count, timestamp_utc, snr_db, "
    "frequency_offset_hz, power_dbm, s3_path"
)


def test_a_day_of_every_hostile_kind_loads_every_good_object_twice_over(resources, s3, bucket, db):
    good = generate_day(DAY, sessions=20)
    hostile = hostile_objects(DAY)
    # Hostile objects among the good ones in upload order, so they share batches with them.
    mixed = [obj for pair in zip(good, hostile) for obj in pair] + good[len(hostile) :] + hostile[len(good) :]
    put_uploaded_at(s3, bucket, mixed, noon(DAY), spacing=0.5)
    expected_rows = {parse_metadata_object(bucket, o.key, o.body).as_row() for o in good}
    expected_codes = {case.key: case.expected_code for case in hostile}

    runs = [run_chain(resources, DAY.isoformat()) for _ in range(2)]

    for result in runs:
        assert result.success
        assert all(evaluation.passed for evaluation in check_evaluations(result).values())
    first, second = (materialization_metadata(result, "measurements")[0] for result in runs)
    assert (first["objects"], first["inserted"], first["rejected"], first["failed"]) == (len(mixed), len(good), len(hostile), 0)
    assert (second["objects"], second["inserted"], second["rejected"]) == (0, 0, 0)  # nothing left pending
    assert first["dagster/row_count"] == second["dagster/row_count"] == len(good)

    rows = set(db.execute(f"SELECT {ROW_COLUMNS} FROM measurements").fetchall())
    assert rows == expected_rows  # every good row, with its values; no hostile one
    ledger = {
        key: (status, reason)
        for key, status, reason in db.execute("SELECT object_key, status, reason FROM ingest_ledger").fetchall()
    }
    assert set(ledger) == {o.key for o in mixed}
    assert Counter(status for status, _ in ledger.values()) == Counter({"loaded": len(good), "rejected": len(hostile)})
    for key, code in expected_codes.items():
        status, reason = ledger[key]
        assert status == "rejected" and reason.startswith(f"{code}: "), (key, reason)
        assert len(reason) <= MAX_REASON_CHARS
    hourly_total = db.execute("SELECT sum(measurement_count) FROM measurements_hourly").fetchone()[0]
    assert hourly_total == len(good)


def test_the_size_limit_is_a_resource_knob(resources, s3_endpoint_url, s3, bucket, db):
    good = generate_day(DAY, sessions=3)
    put_uploaded_at(s3, bucket, good, noon(DAY))
    limit = sorted(len(o.body) for o in good)[len(good) // 2]
    over = {o.key for o in good if len(o.body) > limit}
    resources = {
        **resources,
        "s3": HeimdallS3Resource(
            endpoint_url=s3_endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="heimdall",
            aws_secret_access_key="heimdall-secret",
            max_object_bytes=limit,
        ),
    }

    result = run_chain(resources, DAY.isoformat())

    assert result.success
    loading = materialization_metadata(result, "measurements")[0]
    assert over and (loading["inserted"], loading["rejected"]) == (len(good) - len(over), len(over))
    reasons = dict(db.execute("SELECT object_key, reason FROM ingest_ledger WHERE status = 'rejected'").fetchall())
    assert set(reasons) == over
    assert all(reason.startswith("too_large: the listing says ") for reason in reasons.values())
