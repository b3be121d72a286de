"""A window of uploads end to end, against the real S3 endpoint and TimescaleDB."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.devtools.sample_data import bad_objects, generate_day, upload
from heimdall_pipeline.ingest.loader import ledger_summary
from heimdall_pipeline.ingest.uploads import (
    ingest_window,
    list_uploads,
    load_pending_by_day,
    upload_day_bounds,
)
from heimdall_pipeline_tests.conftest import backdate

DAY = date(2025, 10, 22)


def _now_window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(hours=1), now + timedelta(hours=1)


def _snapshot(db) -> tuple:
    measurements = db.execute("SELECT * FROM measurements ORDER BY task_id, websdr_id").fetchall()
    ledger = db.execute(
        "SELECT object_key, etag, status, reason, task_id, websdr_id, timestamp_utc, processed_at "
        "FROM ingest_ledger ORDER BY object_key"
    ).fetchall()
    return measurements, ledger


def test_a_day_with_bad_objects_and_iq_files_is_fully_accounted_for(db, s3, bucket):
    good = generate_day(DAY, sessions=40)
    bad = bad_objects(DAY)
    upload(s3, bucket, good + bad, with_iq=True)
    start, end = _now_window()

    listing, result = ingest_window(db, s3, bucket, start, end)

    assert listing.new == len(good) + len(bad)  # the .npy recordings are not metadata
    assert (result.objects, result.inserted, result.duplicate, result.rejected, result.failed) == (
        len(good) + len(bad),
        len(good),
        0,
        len(bad),
        0,
    )
    assert result.bytes == sum(len(o.body) for o in good + bad)
    assert result.measurement_days == {DAY}
    assert db.execute("SELECT count(*) FROM measurements").fetchone()[0] == len(good)
    summary = ledger_summary(db, start, end)
    assert {status: n for status, (n, _) in summary.items()} == {"loaded": len(good), "rejected": len(bad)}
    reasons = dict(db.execute("SELECT object_key, reason FROM ingest_ledger WHERE status = 'rejected'").fetchall())
    for obj in bad:
        assert reasons[obj.key].startswith(obj.expected_rejection + ": ")


def test_ingesting_the_same_window_again_changes_nothing(db, s3, bucket):
    upload(s3, bucket, generate_day(DAY, sessions=10) + bad_objects(DAY))
    start, end = _now_window()
    ingest_window(db, s3, bucket, start, end)
    before = _snapshot(db)

    listing, result = ingest_window(db, s3, bucket, start, end)

    assert (listing.new, listing.changed) == (0, 0)
    assert result.objects == 0  # nothing pending: no GETs at all
    assert _snapshot(db) == before


def test_a_replaced_object_replaces_its_row(db, s3, bucket):
    objects = generate_day(DAY, sessions=2)
    upload(s3, bucket, objects)
    start, end = _now_window()
    ingest_window(db, s3, bucket, start, end)

    # Heimdall re-writes one object with a new measurement time (a re-acquisition).
    replaced = objects[0].body.replace(b'"timestamp_utc": "2025-10-22T', b'"timestamp_utc": "2025-10-23T')
    s3.put_object(Bucket=bucket, Key=objects[0].key, Body=replaced)
    listing, result = ingest_window(db, s3, bucket, start, end)

    assert (listing.changed, result.objects, result.inserted, result.updated) == (1, 1, 0, 1)
    assert result.measurement_days == {date(2025, 10, 23)}
    assert db.execute("SELECT count(*) FROM measurements").fetchone()[0] == len(objects)  # one row per object


def test_the_upload_day_decides_the_window_not_the_measurement_time(db, s3, bucket):
    objects = generate_day(DAY, sessions=3)
    upload(s3, bucket, objects)
    yesterday = datetime.now(UTC) - timedelta(days=1)
    backdate(bucket, objects[0].key, yesterday)
    start, end = _now_window()

    _, today = ingest_window(db, s3, bucket, start, end)
    _, earlier = ingest_window(db, s3, bucket, yesterday - timedelta(hours=1), yesterday + timedelta(hours=1))

    assert (today.objects, earlier.objects) == (len(objects) - 1, 1)
    assert db.execute("SELECT count(*) FROM measurements").fetchone()[0] == len(objects)


class _Said:
    """A logger that keeps what it was told."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, message: str) -> None:
        self.lines.append(message)


def test_loading_days_waits_for_another_loader_of_one_of_them(db, clean_database_url, s3, bucket):
    """Two runs of a day (sensor and schedule) never load the same pending objects at once."""
    objects = generate_day(DAY, sessions=2)
    upload(s3, bucket, objects)
    start, end = _now_window()
    list_uploads(db, s3, bucket, start, end)
    today = datetime.now(UTC).date()
    log = _Said()
    with connect(clean_database_url) as other:
        other.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (f"heimdall:upload-day:{today}",))
        threading.Timer(0.5, lambda: other.execute("SELECT pg_advisory_unlock_all()")).start()
        results = load_pending_by_day(db, s3, bucket, *upload_day_bounds(today), log=log)
    assert log.lines[0].startswith(f"waiting for lock heimdall:upload-day:{today} held by pid")
    assert results[today].inserted == len(objects)
