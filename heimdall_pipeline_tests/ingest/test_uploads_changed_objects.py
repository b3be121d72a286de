"""A new version of an object: at most one row per object, the latest valid version wins, and the
ledger records what happened (loaded / updated / present / rejected with the row kept)."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta

from heimdall_pipeline.devtools.sample_data import SampleObject, encode, generate_day, upload
from heimdall_pipeline.ingest.loader import load_measurements
from heimdall_pipeline.ingest.measurement import parse_metadata_object
from heimdall_pipeline.ingest.uploads import ingest_window
from heimdall_pipeline_tests.ingest.test_uploads import DAY


def window():
    now = datetime.now(UTC)
    return now - timedelta(hours=1), now + timedelta(hours=1)


def reupload(s3, bucket, obj: SampleObject, **changes) -> dict:
    document = json.loads(obj.body)
    metrics = changes.pop("metrics", {})
    document.update(changes)
    document["metrics"].update(metrics)
    s3.put_object(Bucket=bucket, Key=obj.key, Body=encode(document))
    return document


def rows_of(db, task_id: str) -> list[tuple]:
    return db.execute(
        "SELECT websdr_id, timestamp_utc, snr_db FROM measurements WHERE task_id = %s ORDER BY websdr_id, timestamp_utc",
        (task_id,),
    ).fetchall()


def ledger(db, key: str) -> tuple:
    return db.execute(
        "SELECT status, reason, timestamp_utc, replaced_timestamp_utc FROM ingest_ledger WHERE object_key = %s", (key,)
    ).fetchone()


def loaded_day(db, s3, bucket, sessions=2):
    objects = generate_day(DAY, sessions=sessions, miss_rate=0)
    upload(s3, bucket, objects)
    ingest_window(db, s3, bucket, *window())
    return objects


def test_a_corrected_snr_with_the_same_time_updates_the_row(db, s3, bucket):
    objects = loaded_day(db, s3, bucket)
    target = objects[0]
    measured = parse_metadata_object(bucket, target.key, target.body)
    reupload(s3, bucket, target, metrics={"snr_db": 42.5})

    _, result = ingest_window(db, s3, bucket, *window())

    assert (result.objects, result.inserted, result.updated, result.duplicate) == (1, 0, 1, 0)
    assert (measured.websdr_id, measured.timestamp_utc, 42.5) in rows_of(db, measured.task_id)
    assert db.execute("SELECT count(*) FROM measurements").fetchone()[0] == len(objects)
    assert ledger(db, target.key)[:2] == ("updated", None)
    # Unchanged afterwards: a re-run changes nothing.
    _, again = ingest_window(db, s3, bucket, *window())
    assert again.objects == 0


def test_a_new_time_replaces_the_old_row(db, s3, bucket):
    objects = loaded_day(db, s3, bucket)
    target = objects[0]
    before = parse_metadata_object(bucket, target.key, target.body)
    later = before.timestamp_utc + timedelta(days=1, minutes=3)
    reupload(s3, bucket, target, timestamp_utc=later.replace(tzinfo=None).isoformat())

    _, result = ingest_window(db, s3, bucket, *window())

    assert (result.inserted, result.updated) == (0, 1)
    assert [r[:2] for r in rows_of(db, before.task_id) if r[0] == before.websdr_id] == [(before.websdr_id, later)]
    assert db.execute("SELECT count(*) FROM measurements").fetchone()[0] == len(objects)
    assert ledger(db, target.key) == ("updated", None, later, before.timestamp_utc)


def test_an_invalid_new_version_keeps_the_last_valid_row_and_says_so(db, s3, bucket):
    objects = loaded_day(db, s3, bucket)
    target = objects[0]
    before = parse_metadata_object(bucket, target.key, target.body)
    s3.put_object(Bucket=bucket, Key=target.key, Body=b'{"websdr_id": ')  # truncated JSON

    _, result = ingest_window(db, s3, bucket, *window())

    assert (result.rejected, result.updated, result.inserted) == (1, 0, 0)
    status, reason, timestamp, _ = ledger(db, target.key)
    assert status == "rejected" and reason.startswith("not_json: ")
    assert reason.endswith("(the row of an earlier version of this object is kept)")
    assert timestamp == before.timestamp_utc  # the ledger still knows which row is the object's
    assert (before.websdr_id, before.timestamp_utc, before.snr_db) in rows_of(db, before.task_id)

    # A valid version after that replaces the kept row: still one row for the object.
    later = before.timestamp_utc + timedelta(hours=2)
    reupload(s3, bucket, target, timestamp_utc=later.replace(tzinfo=None).isoformat())
    _, fixed = ingest_window(db, s3, bucket, *window())
    assert fixed.updated == 1
    assert [r[1] for r in rows_of(db, before.task_id) if r[0] == before.websdr_id] == [later]


def test_the_same_values_in_a_new_version_change_nothing(db, s3, bucket):
    objects = loaded_day(db, s3, bucket, sessions=1)
    target = objects[0]
    rows_before = db.execute("SELECT * FROM measurements ORDER BY id").fetchall()
    s3.put_object(Bucket=bucket, Key=target.key, Body=target.body + b"\n")  # new ETag, same measurement

    _, result = ingest_window(db, s3, bucket, *window())

    assert (result.objects, result.inserted, result.updated, result.duplicate) == (1, 0, 0, 0)
    assert ledger(db, target.key)[0] == "loaded"
    assert db.execute("SELECT * FROM measurements ORDER BY id").fetchall() == rows_before


def test_a_row_that_was_already_there_is_never_deleted_by_an_object(db, s3, bucket):
    objects = generate_day(DAY, sessions=1, miss_rate=0)
    target = objects[0]
    first = parse_metadata_object(bucket, target.key, target.body)
    load_measurements(db, [first])  # Heimdall's worker wrote the row before the object was seen
    upload(s3, bucket, objects)
    _, result = ingest_window(db, s3, bucket, *window())
    assert (result.duplicate, result.present, result.conflicts) == (1, 1, 0)
    assert ledger(db, target.key)[0] == "present"

    later = first.timestamp_utc + timedelta(minutes=5)
    reupload(s3, bucket, target, timestamp_utc=later.replace(tzinfo=None).isoformat())
    _, again = ingest_window(db, s3, bucket, *window())

    # The worker's row is not the object's: it stays, and the object's new version gets its own.
    assert (again.inserted, again.updated) == (1, 0)
    assert [r[1] for r in rows_of(db, first.task_id) if r[0] == first.websdr_id] == [first.timestamp_utc, later]


def test_a_conflict_keeps_its_reason_and_a_new_version_is_compared_again(db, s3, bucket):
    objects = generate_day(DAY, sessions=1, miss_rate=0)
    target = objects[0]
    stored = parse_metadata_object(bucket, target.key, target.body)
    # The worker stored other values under the object's key.
    load_measurements(db, [dataclasses.replace(stored, snr_db=(stored.snr_db or 0.0) + 7.0)])
    worker_row = db.execute(
        "SELECT * FROM measurements WHERE task_id = %s AND websdr_id = %s", (stored.task_id, stored.websdr_id)
    ).fetchone()
    upload(s3, bucket, objects)
    _, result = ingest_window(db, s3, bucket, *window())
    assert (result.inserted, result.present, result.conflicts) == (len(objects) - 1, 0, 1)
    status, reason, _, _ = ledger(db, target.key)
    assert status == "conflict" and reason.startswith("conflict: ") and "snr_db stored" in reason

    # Listed again unchanged: nothing to do, the conflict and its reason stay.
    _, again = ingest_window(db, s3, bucket, *window())
    assert again.objects == 0 and ledger(db, target.key)[:2] == (status, reason)

    # An invalid new version: rejected, and no "earlier row kept" claim (the row was never the object's).
    s3.put_object(Bucket=bucket, Key=target.key, Body=b"{")
    ingest_window(db, s3, bucket, *window())
    status, reason, _, _ = ledger(db, target.key)
    assert status == "rejected" and "earlier version" not in reason

    # A new version with the worker's values: the same measurement now.
    worker_snr = db.execute(
        "SELECT snr_db FROM measurements WHERE task_id = %s AND websdr_id = %s", (stored.task_id, stored.websdr_id)
    ).fetchone()[0]
    reupload(s3, bucket, target, metrics={"snr_db": worker_snr})
    _, fixed = ingest_window(db, s3, bucket, *window())
    assert (fixed.objects, fixed.inserted, fixed.present, fixed.conflicts) == (1, 0, 1, 0)
    assert ledger(db, target.key)[:2] == ("present", None)
    assert (
        db.execute(
            "SELECT * FROM measurements WHERE task_id = %s AND websdr_id = %s", (stored.task_id, stored.websdr_id)
        ).fetchone()
        == worker_row
    )
