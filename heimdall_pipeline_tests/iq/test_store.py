"""iq_metrics against the real S3 endpoint and TimescaleDB: every recording accounted for, bad ones
with their reasons, nothing unpickled, idempotent re-runs, recomputing on a new algorithm version,
and the bound on bodies held at once."""

from __future__ import annotations

import struct

import numpy as np

from heimdall_pipeline.core.object_store import GetRetryPolicy, make_s3_client
from heimdall_pipeline.iq import metrics as iq_metrics
from heimdall_pipeline.iq.store import compute_and_store_day, day_reasons, day_summary
from heimdall_pipeline_tests.faulty_s3_proxy import FaultyS3Proxy
from heimdall_pipeline_tests.iq.test_recordings import _with_header, hostile_recording
from heimdall_pipeline_tests.iq_days import TEST_SAMPLES, ingest, npy_bytes, upload_day_with_recordings

FAST_RETRY = GetRetryPolicy(attempts=6, base_delay=0.01, max_delay=0.05)


def rows(db) -> dict[tuple[str, int], tuple]:
    return {
        (task_id, websdr_id): rest
        for task_id, websdr_id, *rest in db.execute(
            "SELECT task_id, websdr_id, status, reason, snr_db, frequency_offset_hz, algorithm_version, computed_at, "
            "samples_count, samples_count_mismatch FROM iq_metrics"
        ).fetchall()
    }


def test_a_day_of_good_recordings_is_computed_and_agrees_with_the_tones(db, s3, bucket):
    recordings = upload_day_with_recordings(s3, bucket, sessions=4)
    start, end = ingest(db, s3, bucket)

    result = compute_and_store_day(db, s3, bucket, start, end, concurrency=3)

    assert (result.recordings, result.read, result.already_current) == (len(recordings), len(recordings), 0)
    assert result.outcomes == {"computed": len(recordings), "rejected": 0, "missing": 0, "failed": 0}
    stored = rows(db)
    assert len(stored) == len(recordings)
    for recording in recordings:
        status, reason, snr, offset, version, _, samples, mismatch = stored[(recording.task_id, recording.websdr_id)]
        assert (status, reason, version, samples, mismatch) == (
            "computed",
            None,
            iq_metrics.ALGORITHM_VERSION,
            TEST_SAMPLES,
            True,
        )
        assert abs(offset - recording.stored_offset_hz) < 5.0
        assert abs(snr - recording.stored_snr_db) < 1.5
    assert day_summary(db, start, end)["computed"]["recordings"] == len(recordings)
    assert result.stats.bytes == len(recordings) * len(npy_bytes(np.zeros(TEST_SAMPLES, dtype=np.complex64)))


def test_bad_recordings_are_each_accounted_for_with_a_reason_and_none_fails_the_day(db, s3, bucket, tmp_path):
    recordings = upload_day_with_recordings(s3, bucket, sessions=2)  # 14 recordings
    assert len(recordings) >= 10
    good = npy_bytes(np.ones(TEST_SAMPLES, dtype=np.complex64))
    huge_header = b"{'descr': '<c8', 'fortran_order': False, 'shape': (10,), " + b" " * 60_000 + b"}\n"
    target = tmp_path / "unpickled"
    bad = {
        "missing_object": None,
        "truncated": good[:-1000],
        "wrong_dtype": npy_bytes(np.ones(TEST_SAMPLES, dtype=np.float32)),
        "object_array": hostile_recording(target),
        "not_1d": npy_bytes(np.ones((2, TEST_SAMPLES // 2), dtype=np.complex64)),
        "bad_header": b"\x93NUMPY\x02\x00" + struct.pack("<I", len(huge_header)) + huge_header + bytes(80),
        "too_large": npy_bytes(np.ones(70_000, dtype=np.complex64)),  # 560 kB, over the limit below
        "not_npy": b"not a recording at all",
        "all_zero": npy_bytes(np.zeros(TEST_SAMPLES, dtype=np.complex64)),  # iq_metrics cannot measure it
    }
    expected = {}
    for recording, (code, body) in zip(recordings, bad.items()):
        if body is None:
            s3.delete_object(Bucket=bucket, Key=recording.key)
        else:
            s3.put_object(Bucket=bucket, Key=recording.key, Body=body)
        expected[(recording.task_id, recording.websdr_id)] = code
    start, end = ingest(db, s3, bucket)
    no_path = recordings[-1]
    db.execute(
        "UPDATE measurements SET s3_path = NULL WHERE task_id = %s AND websdr_id = %s", (no_path.task_id, no_path.websdr_id)
    )
    expected[(no_path.task_id, no_path.websdr_id)] = "no_s3_path"

    result = compute_and_store_day(db, s3, bucket, start, end, concurrency=4, max_bytes=400_000)

    stored = rows(db)
    assert len(stored) == len(recordings)  # every measurement has its row
    for key, (status, reason, snr, *_rest) in stored.items():
        code = expected.get(key)
        if code is None:
            assert (status, reason) == ("computed", None)
            continue
        assert reason.split(":")[0] == code, (key, reason)
        assert status == {"missing_object": "missing", "no_s3_path": "missing"}.get(code, "rejected")
        assert snr is None
    assert not target.exists()  # the pickled array was never loaded
    assert result.outcomes == {
        "computed": len(recordings) - len(expected),
        "rejected": len(expected) - 2,
        "missing": 2,
        "failed": 0,
    }
    codes = {(status, code): count for status, code, count, _ in day_reasons(db, start, end)}
    assert codes == {("missing" if c in ("missing_object", "no_s3_path") else "rejected", c): 1 for c in expected.values()}


def test_a_malformed_header_among_good_recordings_stalls_nothing(db, s3, bucket):
    """Headers numpy's parser raised on (unbalanced syntax, descr (), shape (True,)): before, the
    whole day's step failed on every run; now each is a rejection and every good recording has its row."""
    recordings = upload_day_with_recordings(s3, bucket, sessions=1)
    broken = {
        recordings[0]: "{'descr': '<c8', 'fortran_order': False, 'shape': (3,",
        recordings[1]: "{'descr': (), 'fortran_order': False, 'shape': (3,), }",
        recordings[2]: "{'descr': '<c8', 'fortran_order': False, 'shape': (True,), }",
    }
    for recording, header in broken.items():
        s3.put_object(Bucket=bucket, Key=recording.key, Body=_with_header(header, bytes(24)))
    start, end = ingest(db, s3, bucket)

    result = compute_and_store_day(db, s3, bucket, start, end, concurrency=2)

    stored = rows(db)
    assert len(stored) == len(recordings)
    for recording in recordings:
        status, reason, *_ = stored[(recording.task_id, recording.websdr_id)]
        if recording in broken:
            assert status == "rejected" and reason.split(":")[0] in ("bad_header", "wrong_dtype"), reason
        else:
            assert (status, reason) == ("computed", None)
    assert result.outcomes["computed"] == len(recordings) - len(broken)


def test_a_stored_path_into_another_bucket_is_never_read(db, s3, bucket):
    """A row stored before the worker checked its paths may name another bucket, or `..`: the reader
    rejects it before any GET, even when the other bucket holds a perfectly good recording."""
    recordings = upload_day_with_recordings(s3, bucket, sessions=1)
    start, end = ingest(db, s3, bucket)
    other = f"{bucket}-other"
    s3.create_bucket(Bucket=other)
    first, second = recordings[0], recordings[1]
    s3.put_object(Bucket=other, Key=first.key, Body=npy_bytes(np.ones(TEST_SAMPLES, dtype=np.complex64)))
    with db.transaction():
        db.execute(
            "UPDATE measurements SET s3_path = %s WHERE task_id = %s AND websdr_id = %s",
            (f"s3://{other}/{first.key}", first.task_id, first.websdr_id),
        )
        db.execute(
            "UPDATE measurements SET s3_path = %s WHERE task_id = %s AND websdr_id = %s",
            (f"s3://{bucket}/sessions/{second.task_id}/../x/{second.key.rsplit('/', 1)[1]}", second.task_id, second.websdr_id),
        )
    gets = []
    s3.meta.events.register("before-call.s3.GetObject", lambda params, **kwargs: gets.append(params["Bucket"]))

    compute_and_store_day(db, s3, bucket, start, end, concurrency=2)

    stored = rows(db)
    assert tuple(stored[(first.task_id, first.websdr_id)][:2]) == (
        "rejected",
        f"foreign_bucket: iq_data_path names bucket {other!r}, not {bucket!r}",
    )
    assert stored[(second.task_id, second.websdr_id)][1].startswith("bad_s3_path:")
    assert other not in gets


def test_re_running_a_day_reads_nothing_already_computed(db, s3, bucket):
    upload_day_with_recordings(s3, bucket, sessions=3)
    start, end = ingest(db, s3, bucket)
    first = compute_and_store_day(db, s3, bucket, start, end)
    before = rows(db)

    again = compute_and_store_day(db, s3, bucket, start, end)

    assert first.read == len(before) > 0
    assert (again.read, again.already_current, again.stats.recordings) == (0, len(before), 0)
    assert rows(db) == before  # computed_at included: nothing was written again


def test_missing_recordings_are_tried_again_and_computed_once_they_exist(db, s3, bucket):
    recordings = upload_day_with_recordings(s3, bucket, sessions=1)
    late = recordings[0]
    body = s3.get_object(Bucket=bucket, Key=late.key)["Body"].read()
    s3.delete_object(Bucket=bucket, Key=late.key)
    start, end = ingest(db, s3, bucket)
    assert compute_and_store_day(db, s3, bucket, start, end).outcomes["missing"] == 1

    s3.put_object(Bucket=bucket, Key=late.key, Body=body)
    again = compute_and_store_day(db, s3, bucket, start, end)

    assert (again.read, again.outcomes["computed"]) == (1, 1)
    assert rows(db)[(late.task_id, late.websdr_id)][0] == "computed"


def test_a_new_algorithm_version_recomputes_every_row(db, s3, bucket, monkeypatch):
    upload_day_with_recordings(s3, bucket, sessions=2)
    start, end = ingest(db, s3, bucket)
    compute_and_store_day(db, s3, bucket, start, end)
    before = rows(db)

    monkeypatch.setattr(iq_metrics, "ALGORITHM_VERSION", iq_metrics.ALGORITHM_VERSION + 1)
    result = compute_and_store_day(db, s3, bucket, start, end)

    after = rows(db)
    assert result.read == len(before) == len(after)
    assert {row[4] for row in after.values()} == {iq_metrics.ALGORITHM_VERSION}
    assert all(after[key][5] > before[key][5] for key in before)  # computed_at: written again
    assert compute_and_store_day(db, s3, bucket, start, end).read == 0  # and then current again


def test_a_measurement_that_names_another_recording_is_recomputed(db, s3, bucket):
    recordings = upload_day_with_recordings(s3, bucket, sessions=1)
    start, end = ingest(db, s3, bucket)
    compute_and_store_day(db, s3, bucket, start, end)
    moved = recordings[0]
    new_key = moved.key.replace(".npy", "_v2.npy")
    s3.put_object(Bucket=bucket, Key=new_key, Body=npy_bytes(np.zeros(8, dtype=np.float64)))
    db.execute(
        "UPDATE measurements SET s3_path = %s WHERE task_id = %s AND websdr_id = %s",
        (f"s3://{bucket}/{new_key}", moved.task_id, moved.websdr_id),
    )

    result = compute_and_store_day(db, s3, bucket, start, end)

    assert result.read == 1
    assert tuple(rows(db)[(moved.task_id, moved.websdr_id)][:2]) == (
        "rejected",
        "wrong_dtype: dtype '<f8'; expected complex64 (or complex128)",
    )


def test_bodies_held_at_once_never_exceed_the_concurrency(db, s3, bucket):
    upload_day_with_recordings(s3, bucket, sessions=4)
    start, end = ingest(db, s3, bucket)

    serial = compute_and_store_day(db, s3, bucket, start, end, concurrency=1)
    db.execute("DELETE FROM iq_metrics")
    parallel = compute_and_store_day(db, s3, bucket, start, end, concurrency=3)

    assert serial.stats.peak_in_flight == 1
    assert 1 <= parallel.stats.peak_in_flight <= 3
    assert serial.outcomes == parallel.outcomes


def test_transient_get_failures_are_retried_and_every_recording_computed(db, s3, bucket, s3_endpoint_url):
    recordings = upload_day_with_recordings(s3, bucket, sessions=3)
    start, end = ingest(db, s3, bucket)
    with FaultyS3Proxy(s3_endpoint_url, failure_rate=0.3, seed=5) as proxy:
        flaky = make_s3_client(proxy.url, "us-east-1", "heimdall", "heimdall-secret", botocore_retries=0)
        result = compute_and_store_day(db, flaky, bucket, start, end, retry=FAST_RETRY)

    assert proxy.injected > 0
    assert result.stats.retries == proxy.injected
    assert result.outcomes["computed"] == len(recordings)


def test_a_get_that_keeps_failing_is_failed_and_retried_by_the_next_run(db, s3, bucket, s3_endpoint_url):
    recordings = upload_day_with_recordings(s3, bucket, sessions=1)
    start, end = ingest(db, s3, bucket)
    denied = recordings[0].key.split("/", 1)[1]
    with FaultyS3Proxy(s3_endpoint_url, denied_keys=frozenset({denied})) as proxy:
        flaky = make_s3_client(proxy.url, "us-east-1", "heimdall", "heimdall-secret")
        result = compute_and_store_day(db, flaky, bucket, start, end, retry=FAST_RETRY)
    assert (result.outcomes["failed"], result.outcomes["computed"]) == (1, len(recordings) - 1)
    status, reason, *_ = rows(db)[(recordings[0].task_id, recordings[0].websdr_id)]
    assert status == "failed" and "AccessDenied" in reason

    again = compute_and_store_day(db, s3, bucket, start, end)

    assert (again.read, again.outcomes["computed"]) == (1, 1)
