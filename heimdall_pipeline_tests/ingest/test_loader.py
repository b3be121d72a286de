"""The bulk loader and the ingest ledger against the real TimescaleDB."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.core.object_store import ObjectInfo
from heimdall_pipeline.ingest.loader import (
    COMPARED_COLUMNS,
    ListingResult,
    Rejection,
    conflict_reason,
    ledger_summary,
    load_measurements,
    load_object_batch,
    load_rows,
    pending_objects,
    record_listed,
)
from heimdall_pipeline.ingest.measurement import COLUMNS, MAX_REASON_CHARS, Measurement

T0 = datetime(2025, 10, 22, 10, 0, tzinfo=UTC)


def measurement(task: str, websdr_id: int, seconds: float = 0.0, snr: float | None = 10.0) -> Measurement:
    return Measurement(
        task_id=task,
        websdr_id=websdr_id,
        frequency_mhz=145.5,
        sample_rate_khz=12.5,
        samples_count=125000,
        timestamp_utc=T0 + timedelta(seconds=seconds),
        snr_db=snr,
        frequency_offset_hz=-3.25,
        power_dbm=None,
        s3_path=f"s3://heimdall-raw-iq/sessions/{task}/websdr_{websdr_id}.npy",
    )


def info(key: str, etag: str = "e1", minutes: int = 0) -> ObjectInfo:
    return ObjectInfo(key, etag, 321, T0 + timedelta(minutes=minutes))


def stored_rows(db) -> list[tuple]:
    return db.execute(f"SELECT {', '.join(COLUMNS)} FROM measurements ORDER BY task_id, websdr_id").fetchall()


def test_load_inserts_every_column_and_a_reload_inserts_nothing(db, clean_database_url):
    batch = [measurement(f"task-{i}", w, seconds=i) for i in range(5) for w in (1, 2, 3)]
    first = load_measurements(db, batch, batch_size=4)  # several batches, one transaction each
    assert (first.inserted, first.duplicate) == (15, 0)
    assert stored_rows(db) == sorted(m.as_row() for m in batch)
    with connect(clean_database_url) as other:  # committed per batch, visible to everyone
        assert other.execute("SELECT count(*) FROM measurements").fetchone()[0] == 15
    again = load_measurements(db, batch, batch_size=4)
    assert (again.inserted, again.duplicate) == (0, 15)
    assert db.execute("SELECT count(*) FROM measurements").fetchone()[0] == 15


COLUMNS_OF = (
    "SELECT attname, format_type(atttypid, atttypmod), attnotnull FROM pg_attribute"
    " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped ORDER BY attnum"
)


def test_the_staging_table_is_measurements_without_id_plus_the_object(db):
    load_measurements(db, [measurement("a", 1)])  # the session's staging tables exist: made again, nothing changes
    load_measurements(db, [measurement("b", 1)])
    staged = db.execute(COLUMNS_OF, ("pg_temp.measurements_staging",)).fetchall()
    stored = db.execute(COLUMNS_OF, ("measurements",)).fetchall()
    assert staged == [column for column in stored if column[0] != "id"] + [
        ("object_key", "text", False),
        ("etag", "text", False),
        ("size_bytes", "bigint", False),
        ("last_modified", "timestamp with time zone", False),
    ]
    assert (
        db.execute("SELECT count(*) FROM pg_attrdef WHERE adrelid = 'pg_temp.measurements_staging'::regclass").fetchone()[0] == 0
    )


def test_duplicates_within_one_batch_count_once(db):
    row = measurement("task-dup", 1).as_row()
    result = load_rows(db, [row, row, row])
    assert (result.inserted, result.duplicate) == (1, 2)


def test_object_batch_records_loaded_present_and_rejected_in_the_ledger(db):
    load_measurements(db, [measurement("already", 1)])
    parsed = [
        (info("sessions/fresh/websdr_1_metadata.json"), measurement("fresh", 1)),
        (info("sessions/already/websdr_1_metadata.json"), measurement("already", 1)),
        (info("sessions/fresh/websdr_1_metadata.json"), measurement("fresh", 1)),  # one object, given twice
    ]
    rejected = [Rejection(info("sessions/bad/websdr_1_metadata.json"), "not_json: the object is empty")]
    result = load_object_batch(db, parsed, rejected)
    assert (result.inserted, result.duplicate, result.present, result.conflicts) == (1, 1, 1, 0)
    ledger = dict(
        ((key, (status, reason)) for key, status, reason in db.execute("SELECT object_key, status, reason FROM ingest_ledger"))
    )
    assert ledger["sessions/fresh/websdr_1_metadata.json"] == ("loaded", None)
    assert ledger["sessions/already/websdr_1_metadata.json"] == ("present", None)
    assert ledger["sessions/bad/websdr_1_metadata.json"] == ("rejected", "not_json: the object is empty")
    details = db.execute(
        "SELECT task_id, websdr_id, timestamp_utc, etag, size_bytes, processed_at IS NOT NULL "
        "FROM ingest_ledger WHERE object_key = 'sessions/fresh/websdr_1_metadata.json'"
    ).fetchone()
    assert details == ("fresh", 1, T0, "e1", 321, True)


def test_a_bad_object_never_takes_good_rows_with_it(db):
    good = [(info(f"sessions/t{i}/websdr_2_metadata.json"), measurement(f"t{i}", 2)) for i in range(50)]
    bad = [Rejection(info(f"sessions/b{i}/websdr_2_metadata.json"), "wrong_type: x") for i in range(7)]
    result = load_object_batch(db, good, bad)
    assert result.inserted == 50
    summary = ledger_summary(db, T0, T0 + timedelta(days=1))
    assert summary == {"loaded": (50, 50 * 321), "rejected": (7, 7 * 321)}


def test_listing_marks_new_and_changed_objects_pending_and_keeps_outcomes(db):
    first = [info("sessions/a/websdr_1_metadata.json"), info("sessions/b/websdr_1_metadata.json")]
    assert record_listed(db, first) == ListingResult(new=2, changed=0, unchanged=0)
    load_object_batch(db, [(first[0], measurement("a", 1))])
    # Unchanged objects keep their outcome; a new ETag (content replaced) sends one back to pending.
    again = [first[0], info("sessions/b/websdr_1_metadata.json", etag="e2", minutes=5)]
    result = record_listed(db, again)
    assert (result.new, result.changed, result.unchanged) == (0, 1, 1)
    statuses = dict(db.execute("SELECT object_key, status FROM ingest_ledger").fetchall())
    assert statuses == {
        "sessions/a/websdr_1_metadata.json": "loaded",
        "sessions/b/websdr_1_metadata.json": "pending",
    }
    pending = pending_objects(db, T0, T0 + timedelta(hours=1))
    assert pending == [info("sessions/b/websdr_1_metadata.json", etag="e2", minutes=5)]
    # Re-listing the same state changes nothing.
    assert record_listed(db, again) == ListingResult(new=0, changed=0, unchanged=2)


def test_pending_objects_are_selected_by_upload_window(db):
    record_listed(
        db, [info("sessions/x/websdr_1_metadata.json", minutes=0), info("sessions/y/websdr_1_metadata.json", minutes=60 * 24)]
    )
    assert [o.key for o in pending_objects(db, T0, T0 + timedelta(days=1))] == ["sessions/x/websdr_1_metadata.json"]


def ledger_of(db, key: str) -> tuple:
    return db.execute("SELECT status, reason FROM ingest_ledger WHERE object_key = %s", (key,)).fetchone()


def test_an_object_whose_key_holds_other_values_is_a_conflict_and_the_stored_row_is_kept(db):
    stored = measurement("worker", 1, snr=10.0)
    load_measurements(db, [stored])  # Heimdall's worker stored it first
    rows_before = stored_rows(db)
    other = dataclasses.replace(stored, snr_db=12.5, power_dbm=-80.0)
    key = "sessions/worker/websdr_1_metadata.json"

    result = load_object_batch(db, [(info(key), other)])

    assert (result.inserted, result.duplicate, result.present, result.conflicts) == (0, 1, 0, 1)
    status, reason = ledger_of(db, key)
    assert status == "conflict"
    assert reason == (
        "conflict: a row with this key (task, receiver, time) is stored with other values, kept as it is: "
        "snr_db stored 10.0, new 12.5; power_dbm stored null, new -80.0"
    )
    assert [(c.object_key, c.reason) for c in result.conflict_examples] == [(key, reason)]
    assert stored_rows(db) == rows_before  # never overwritten


def test_floats_within_float_close_are_the_same_measurement(db):
    stored = measurement("close", 1, snr=10.0)
    load_measurements(db, [stored])
    # What a different float formatting or summation order can change: the last bits.
    nearly = dataclasses.replace(stored, snr_db=10.0 * (1 + 1e-12), frequency_mhz=145.5 * (1 - 1e-12))
    result = load_object_batch(db, [(info("sessions/close/websdr_1_metadata.json"), nearly)])
    assert (result.present, result.conflicts) == (1, 0)
    assert ledger_of(db, "sessions/close/websdr_1_metadata.json") == ("present", None)
    # Beyond the tolerance it is another value.
    apart = dataclasses.replace(stored, snr_db=10.0 * (1 + 1e-8))
    result = load_object_batch(db, [(info("sessions/close/websdr_1_metadata.json", etag="e2"), apart)])
    assert (result.present, result.conflicts) == (0, 1)
    assert ledger_of(db, "sessions/close/websdr_1_metadata.json")[0] == "conflict"


def test_every_compared_column_is_named_and_long_values_are_cut_short(db):
    stored = measurement("every", 2)
    load_measurements(db, [stored])
    other = dataclasses.replace(
        stored,
        frequency_mhz=430.0,
        sample_rate_khz=25.0,
        samples_count=250_000,
        snr_db=None,
        frequency_offset_hz=7.0,
        power_dbm=-50.0,
        s3_path="s3://elsewhere/" + "x" * 500,
    )
    key = "sessions/every/websdr_2_metadata.json"
    result = load_object_batch(db, [(info(key), other)])
    assert result.conflicts == 1
    status, reason = ledger_of(db, key)
    assert status == "conflict" and len(reason) <= MAX_REASON_CHARS
    assert reason.startswith("conflict: ")
    for column in COMPARED_COLUMNS[:5]:  # the first ones fit in full; the cap cuts the tail
        assert f"{column} stored " in reason
    assert "x" * 100 not in reason


def test_conflict_reason_names_the_columns_that_differ():
    values = (145.5, 145.5, 12.5, 12.5, 125000, 125001, None, 3.0, -1.0, -1.0 * (1 + 1e-12), -60.0, -60.0, "a", "b")
    assert conflict_reason(values) == (
        "conflict: a row with this key (task, receiver, time) is stored with other values, kept as it is: "
        "samples_count stored 125000, new 125001; snr_db stored null, new 3.0; s3_path stored 'a', new 'b'"
    )


def test_measurements_given_directly_report_present_and_conflicting_rows(db):
    """The worker path (worker_api → load_measurements) after the pipeline stored the rows."""
    batch = [measurement("pipeline-first", w) for w in (1, 2, 3)]
    load_measurements(db, batch)
    rows_before = stored_rows(db)
    again = [batch[0], dataclasses.replace(batch[1], snr_db=99.0), batch[2]]

    result = load_measurements(db, again)

    assert (result.inserted, result.duplicate, result.present, result.conflicts) == (0, 3, 2, 1)
    (conflict,) = result.conflict_examples
    assert (conflict.object_key, conflict.task_id, conflict.websdr_id) == (None, "pipeline-first", 2)
    assert "snr_db stored 10.0, new 99.0" in conflict.reason
    assert stored_rows(db) == rows_before


def test_two_rows_with_one_key_in_one_batch_the_second_other_is_a_conflict(db):
    row = measurement("twice", 1)
    result = load_measurements(db, [row, row, dataclasses.replace(row, snr_db=11.0)])
    assert (result.inserted, result.present, result.conflicts) == (1, 1, 1)
