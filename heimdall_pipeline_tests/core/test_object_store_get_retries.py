"""Transient GET failures are retried within a run, counted, and never lose an object; a vanished
object is 'missing'; one that changed since its listing is loaded in its new version; one whose
GET keeps failing stays pending, counts its attempts, and is given up as 'failed' after a bound.

The faults come from a real HTTP proxy in front of the S3 server (faulty_s3_proxy.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from heimdall_pipeline.core.object_store import GetRetryPolicy, make_s3_client
from heimdall_pipeline.devtools.sample_data import generate_day, upload
from heimdall_pipeline.ingest.uploads import ingest_window, list_uploads, load_pending
from heimdall_pipeline_tests.faulty_s3_proxy import FAULTS, FaultyS3Proxy

DAY = date(2025, 10, 22)
FAST_RETRY = GetRetryPolicy(attempts=4, base_delay=0.001, max_delay=0.01)


def now_window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(hours=1), now + timedelta(hours=1)


def statuses(db) -> dict[str, str]:
    return dict(db.execute("SELECT object_key, status FROM ingest_ledger").fetchall())


def test_thirty_percent_of_gets_failing_loads_everything_in_one_run_and_counts_each_retry(db, s3, bucket, s3_endpoint_url):
    objects = generate_day(DAY, sessions=30)
    upload(s3, bucket, objects)
    start, end = now_window()
    with FaultyS3Proxy(s3_endpoint_url, failure_rate=0.3, seed=13) as proxy:
        # botocore's own retries off: every retry is ours, so the count must equal the faults injected.
        flaky = make_s3_client(proxy.url, "us-east-1", "heimdall", "heimdall-secret", botocore_retries=0)
        _, result = ingest_window(db, flaky, bucket, start, end, retry=FAST_RETRY)

    assert set(proxy.faults) == set(FAULTS)  # every kind of fault happened: 500, 503, reset, truncated
    assert proxy.injected >= 0.2 * len(objects)
    assert result.retries == proxy.injected
    assert (result.objects, result.inserted, result.failed, result.missing) == (len(objects), len(objects), 0, 0)
    assert set(statuses(db).values()) == {"loaded"}
    assert db.execute("SELECT count(*) FROM measurements").fetchone()[0] == len(objects)


def test_a_vanished_object_is_missing_and_found_again_it_loads(db, s3, bucket):
    objects = generate_day(DAY, sessions=2)
    upload(s3, bucket, objects)
    start, end = now_window()
    list_uploads(db, s3, bucket, start, end)
    s3.delete_object(Bucket=bucket, Key=objects[0].key)

    result = load_pending(db, s3, bucket, start, end)

    assert (result.missing, result.failed, result.inserted) == (1, 0, len(objects) - 1)
    status, reason = db.execute("SELECT status, reason FROM ingest_ledger WHERE object_key = %s", (objects[0].key,)).fetchone()
    assert status == "missing" and reason.startswith("missing: GET answered NoSuchKey")
    # Nothing is pending, so a re-run does not GET it again ...
    assert load_pending(db, s3, bucket, start, end).objects == 0
    # ... and put back (same content, same ETag), the next listing makes it pending and it loads.
    upload(s3, bucket, [objects[0]])
    listing, retry = ingest_window(db, s3, bucket, start, end)
    assert (listing.changed, retry.objects, retry.inserted) == (1, 1, 1)
    assert statuses(db)[objects[0].key] == "loaded"


def test_an_object_changed_between_listing_and_get_loads_its_new_version(db, s3, bucket):
    objects = generate_day(DAY, sessions=1)
    upload(s3, bucket, objects)
    start, end = now_window()
    list_uploads(db, s3, bucket, start, end)
    listed_etag = db.execute("SELECT etag FROM ingest_ledger WHERE object_key = %s", (objects[0].key,)).fetchone()[0]
    corrected = objects[0].body.replace(b'"snr_db": ', b'"snr_db": 1')  # another SNR, same time
    s3.put_object(Bucket=bucket, Key=objects[0].key, Body=corrected)

    result = load_pending(db, s3, bucket, start, end)

    assert (result.changed, result.inserted, result.failed) == (1, len(objects), 0)
    etag, status = db.execute("SELECT etag, status FROM ingest_ledger WHERE object_key = %s", (objects[0].key,)).fetchone()
    assert etag != listed_etag and status == "loaded"
    head = s3.head_object(Bucket=bucket, Key=objects[0].key)
    assert etag == head["ETag"].strip('"')


def test_a_get_that_keeps_failing_counts_attempts_then_is_failed(db, s3, bucket, s3_endpoint_url):
    objects = generate_day(DAY, sessions=1, miss_rate=0)
    upload(s3, bucket, objects)
    start, end = now_window()
    denied = objects[0].key.split("/", 1)[1]  # the proxy matches the end of the path
    with FaultyS3Proxy(s3_endpoint_url, denied_keys=frozenset({denied})) as proxy:
        flaky = make_s3_client(proxy.url, "us-east-1", "heimdall", "heimdall-secret")
        _, first = ingest_window(db, flaky, bucket, start, end, retry=FAST_RETRY)
        assert (first.failed, first.gave_up, first.inserted) == (1, 0, len(objects) - 1)
        row = db.execute(
            "SELECT status, attempts, last_error, reason FROM ingest_ledger WHERE object_key = %s", (objects[0].key,)
        ).fetchone()
        assert row[:2] == ("pending", 1) and "AccessDenied" in row[2] and row[3] is None

        second = load_pending(db, flaky, bucket, start, end, retry=FAST_RETRY, max_attempts=2)

    assert (second.objects, second.failed, second.gave_up) == (1, 1, 1)
    status, attempts, reason = db.execute(
        "SELECT status, attempts, reason FROM ingest_ledger WHERE object_key = %s", (objects[0].key,)
    ).fetchone()
    assert (status, attempts) == ("failed", 2)
    assert reason.startswith("failed: GET failed in 2 runs, last: AccessDenied: ")
    assert load_pending(db, s3, bucket, start, end).objects == 0  # final: no more GETs
    # A new version of the object starts over.
    s3.put_object(Bucket=bucket, Key=objects[0].key, Body=objects[0].body + b" ")
    _, again = ingest_window(db, s3, bucket, start, end)
    assert again.inserted == 1 and statuses(db)[objects[0].key] == "loaded"
    assert db.execute("SELECT attempts FROM ingest_ledger WHERE object_key = %s", (objects[0].key,)).fetchone() == (0,)


def test_backoff_doubles_with_full_jitter_up_to_its_cap():
    policy = GetRetryPolicy(attempts=6, base_delay=0.2, max_delay=1.0)
    for retry, ceiling in enumerate([0.2, 0.4, 0.8, 1.0, 1.0]):
        delays = [policy.delay(retry) for _ in range(200)]
        assert all(0.0 <= d <= ceiling for d in delays)
        assert max(delays) > ceiling / 2  # jitter spreads over the whole range, not a fixed wait
