"""A key with a NUL byte through the sensor and the ingest chain: recorded as rejected bad_key when
discovered, the day's good objects load, the checks pass, and the sensor moves on."""

from __future__ import annotations

from heimdall_pipeline.core.object_store import ledger_key
from heimdall_pipeline.defs.ingest.sensors import new_metadata_objects_sensor
from heimdall_pipeline.devtools.sample_data import generate_day
from heimdall_pipeline_tests.conftest import backdate
from heimdall_pipeline_tests.defs.conftest import check_evaluations, put_uploaded_at, run_chain
from heimdall_pipeline_tests.defs.ingest.test_sensors import start_of_test_uploads, tick

NUL_KEY = "sessions/0\x00bad/websdr_1_metadata.json"


def test_a_nul_key_never_stops_the_sensor_or_the_day(resources, s3, bucket, db):
    uploaded_at = start_of_test_uploads()
    day = uploaded_at.date().isoformat()
    good = generate_day(uploaded_at.date(), sessions=2, seed=11)
    put_uploaded_at(s3, bucket, good, uploaded_at)
    s3.put_object(Bucket=bucket, Key=NUL_KEY, Body=good[0].body)
    backdate(bucket, NUL_KEY, uploaded_at)

    first = tick(new_metadata_objects_sensor, resources)
    assert [(r.partition_key, r.tags["heimdall/new_objects"]) for r in first.run_requests] == [(day, str(len(good)))]
    assert db.execute(
        "SELECT status, left(reason, 7) FROM ingest_ledger WHERE object_key = %s", (ledger_key(NUL_KEY),)
    ).fetchone() == ("rejected", "bad_key")

    result = run_chain(resources, day, discover=False)

    assert result.success and all(e.passed for e in check_evaluations(result).values())
    assert db.execute("SELECT count(*) FROM measurements").fetchone()[0] == len(good)
    assert db.execute(
        "SELECT status, left(reason, 7) FROM ingest_ledger WHERE object_key = %s", (ledger_key(NUL_KEY),)
    ).fetchone() == ("rejected", "bad_key")
    settled = tick(new_metadata_objects_sensor, resources, first.cursor)
    assert settled.run_requests == []
