"""Heimdall's worker (worker_api.save_measurements_to_timescaledb, called right after an acquisition)
and the pipeline (which later lists the acquisition's metadata objects) store the same rows. Either
order: one row per measurement, a ledger that says what happened (loaded, present, conflict), checks
that evaluate every row of the day whoever inserted it, and dagster/row_count = the day's rows."""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from datetime import date

from dagster import AssetCheckSeverity

from heimdall_pipeline import save_measurements_to_timescaledb
from heimdall_pipeline.devtools.sample_data import SampleObject, encode, generate_day, measurement_document, metadata_key
from heimdall_pipeline.ingest.loader import load_measurements
from heimdall_pipeline.ingest.measurement import Measurement
from heimdall_pipeline_tests.defs.conftest import check_evaluations, materialization_metadata, noon, put_uploaded_at, run_chain

DAY = date(2025, 9, 16)
CHECKS = {
    "all_receivers_reported",
    "snr_in_plausible_range",
    "frequency_offset_within_band",
    "no_conflicting_rows",
    "no_object_unaccounted",
    "hourly_matches_measurements",
}


def task_and_receiver(obj: SampleObject) -> tuple[str, int]:
    _, task_id, name = obj.key.split("/")
    return task_id, int(name.removeprefix("websdr_").removesuffix("_metadata.json"))


def worker_dict(bucket: str, obj: SampleObject) -> dict:
    """The measurement dict Heimdall's acquisition task hands the worker: the metadata object's
    document, with the path of the IQ recording it wrote beside it."""
    task_id, websdr_id = task_and_receiver(obj)
    return {**json.loads(obj.body), "iq_data_path": f"s3://{bucket}/sessions/{task_id}/websdr_{websdr_id}.npy"}


def worker_saves(database_url: str, bucket: str, objects: list[SampleObject], change=None) -> list[dict]:
    """Save the objects' measurements as Heimdall's worker does: one call per acquisition (task).
    `change(key, dict)` may alter a dict first. Returns each call's answer."""
    by_task: dict[str, list[dict]] = defaultdict(list)
    for obj in objects:
        measurement = worker_dict(bucket, obj)
        if change:
            change(obj.key, measurement)
        by_task[task_and_receiver(obj)[0]].append(measurement)
    return [save_measurements_to_timescaledb(task_id, dicts, database_url=database_url) for task_id, dicts in by_task.items()]


def odd_object(task_id: str, websdr_id: int, **metrics) -> SampleObject:
    document = measurement_document(random.Random(websdr_id), websdr_id, 145.5, noon(DAY))
    document["metrics"].update(metrics)
    return SampleObject(metadata_key(task_id, websdr_id), encode(document))


def ledger_statuses(db) -> Counter:
    return Counter(dict(db.execute("SELECT status, count(*) FROM ingest_ledger GROUP BY status").fetchall()))


def stored(db) -> list[tuple]:
    return db.execute("SELECT * FROM measurements ORDER BY task_id, websdr_id, timestamp_utc").fetchall()


def receiver_name(db, websdr_id: int, day: date) -> str:
    """The station that had the id on `day` (DAY is in the seed's numbering: 7 is Milano - Baggio)."""
    return db.execute(
        "SELECT name FROM websdr_station_versions WHERE websdr_id = %s AND valid_during @> %s", (websdr_id, noon(day))
    ).fetchone()[0]


def row_count(db) -> int:
    return db.execute("SELECT count(*) FROM measurements").fetchone()[0]


def test_worker_then_pipeline_objects_are_already_present_and_every_row_is_checked(resources, clean_database_url, s3, bucket, db):
    day = generate_day(DAY, sessions=6, miss_rate=0)
    odd_snr = odd_object("odd-snr", 3, snr_db=95.0)  # implausible: the SNR check must find it
    # Rows that exist only through the worker (Heimdall's upload of their objects failed): all of
    # receiver 7's, and a session with an offset beyond ±sample_rate/2 that the offset check must
    # find all the same.
    receiver_7 = [o for o in day if o.key.endswith("/websdr_7_metadata.json")]
    worker_only = receiver_7 + [odd_object("no-objects", websdr_id) for websdr_id in (1, 2)]
    worker_only.append(odd_object("no-objects", 4, frequency_offset_hz=9_000.0))  # 12.5 kHz: limit 6,250 Hz
    uploaded = [o for o in day if o not in receiver_7] + [odd_snr]

    answers = worker_saves(clean_database_url, bucket, uploaded + worker_only)
    assert all(a["status"] == "SUCCESS" and a["duplicate"] == 0 and not a["rejected"] for a in answers)
    all_rows = len(uploaded) + len(worker_only)
    assert row_count(db) == all_rows
    rows_before = stored(db)
    put_uploaded_at(s3, bucket, uploaded, noon(DAY))

    result = run_chain(resources, DAY.isoformat())

    assert result.success  # the data-quality checks only WARN
    assert ledger_statuses(db) == Counter({"present": len(uploaded)})
    assert stored(db) == rows_before  # nothing inserted twice, nothing changed
    loading = materialization_metadata(result, "measurements")[0]
    assert (loading["objects"], loading["inserted"], loading["already present"], loading["conflicts"]) == (
        len(uploaded),
        0,
        len(uploaded),
        0,
    )
    # The day's rows, whoever inserted them: the worker-only ones too.
    assert loading["dagster/row_count"] == loading["rows measured on the day"] == all_rows
    assert loading["rows of the day's uploads measured on other days"] == 0
    assert "| present |" in loading["ledger"]
    checks = check_evaluations(result)
    assert set(checks) == CHECKS
    snr = checks["snr_in_plausible_range"]
    assert not snr.passed and snr.severity == AssetCheckSeverity.WARN
    assert (snr.metadata["measurements"].value, snr.metadata["out of range"].value) == (all_rows, 1)
    assert snr.metadata["max snr_db"].value == 95.0
    offsets = checks["frequency_offset_within_band"]
    assert not offsets.passed and offsets.severity == AssetCheckSeverity.WARN
    assert (offsets.metadata["measurements"].value, offsets.metadata["out of range"].value) == (all_rows, 1)
    assert offsets.metadata["max |offset| Hz"].value == 9_000.0
    assert checks["no_conflicting_rows"].passed and checks["no_conflicting_rows"].metadata["conflicts"].value == 0
    for name in ("all_receivers_reported", "no_object_unaccounted", "hourly_matches_measurements"):
        assert checks[name].passed, name
    # Receiver 7 reported, through the worker only; every row of the day is counted once.
    per_receiver = checks["all_receivers_reported"].metadata["measurements per receiver"].value
    assert f"| 7 | {receiver_name(db, 7, DAY)} | {len(receiver_7)} |" in per_receiver
    counts = [int(line.rsplit("|", 2)[1]) for line in per_receiver.splitlines()[2:]]
    assert sum(counts) == all_rows
    assert db.execute("SELECT sum(measurement_count) FROM measurements_hourly").fetchone()[0] == all_rows

    again = run_chain(resources, DAY.isoformat())

    assert again.success and ledger_statuses(db) == Counter({"present": len(uploaded)})
    loading = materialization_metadata(again, "measurements")[0]
    assert (loading["objects"], loading["already present"], loading["dagster/row_count"]) == (0, 0, all_rows)


def test_pipeline_then_worker_the_worker_finds_every_row_already_there(resources, clean_database_url, s3, bucket, db):
    day = generate_day(DAY, sessions=5, miss_rate=0)
    put_uploaded_at(s3, bucket, day, noon(DAY))

    first = run_chain(resources, DAY.isoformat())

    assert first.success
    assert ledger_statuses(db) == Counter({"loaded": len(day)})
    loading = materialization_metadata(first, "measurements")[0]
    assert (loading["inserted"], loading["already present"], loading["dagster/row_count"]) == (len(day), 0, len(day))
    checks = check_evaluations(first)
    assert all(check.passed for check in checks.values()), {n: c.description for n, c in checks.items() if not c.passed}
    assert checks["snr_in_plausible_range"].metadata["measurements"].value == len(day)
    rows_before = stored(db)

    answers = worker_saves(clean_database_url, bucket, day)

    # The worker reports every measurement stored, none new: no row twice, none changed.
    assert sum(a["measurements_count"] for a in answers) == sum(a["duplicate"] for a in answers) == len(day)
    assert all(a["status"] == "SUCCESS" and a["inserted"] == 0 for a in answers)
    assert stored(db) == rows_before
    # What the loader tells the worker path (LoadResult, for its answer): all of them the same measurement.
    again = load_measurements(
        db, [Measurement.from_measurement_dict(task_and_receiver(o)[0], worker_dict(bucket, o)) for o in day]
    )
    assert (again.inserted, again.duplicate, again.present, again.conflicts) == (0, len(day), len(day), 0)

    # A later acquisition the worker stored and whose objects never came: the day's row all the same.
    late = [odd_object("worker-only", websdr_id) for websdr_id in range(1, 8)]
    assert worker_saves(clean_database_url, bucket, late)[0]["inserted"] == 7

    second = run_chain(resources, DAY.isoformat())

    assert second.success
    assert ledger_statuses(db) == Counter({"loaded": len(day)})  # unchanged objects keep their outcome
    loading = materialization_metadata(second, "measurements")[0]
    assert (loading["objects"], loading["inserted"], loading["dagster/row_count"]) == (0, 0, len(day) + 7)
    checks = check_evaluations(second)
    assert checks["snr_in_plausible_range"].passed
    assert checks["snr_in_plausible_range"].metadata["measurements"].value == len(day) + 7
    assert all(check.passed for check in checks.values())


def test_a_conflicting_duplicate_is_recorded_with_its_reason_and_the_stored_row_is_kept(
    resources, clean_database_url, s3, bucket, db
):
    day = generate_day(DAY, sessions=4, miss_rate=0)
    snr_changed, samples_changed = day[3].key, day[10].key
    worker_values = {}

    def differ(key: str, measurement: dict) -> None:
        if key == snr_changed:
            measurement["metrics"]["snr_db"] += 3.0
        elif key == samples_changed:
            measurement["samples_count"] = 62_500
        else:
            return
        worker_values[key] = (measurement["metrics"]["snr_db"], measurement["samples_count"])

    worker_saves(clean_database_url, bucket, day, change=differ)
    rows_before = stored(db)
    put_uploaded_at(s3, bucket, day, noon(DAY))

    result = run_chain(resources, DAY.isoformat())

    assert result.success  # a conflict WARNs; the day goes on
    assert stored(db) == rows_before  # the worker's rows stay exactly as they were
    assert ledger_statuses(db) == Counter({"present": len(day) - 2, "conflict": 2})
    reasons = dict(db.execute("SELECT object_key, reason FROM ingest_ledger WHERE status = 'conflict'").fetchall())
    object_snr = json.loads(next(o for o in day if o.key == snr_changed).body)["metrics"]["snr_db"]
    assert reasons[snr_changed] == (
        "conflict: a row with this key (task, receiver, time) is stored with other values, kept as it is: "
        f"snr_db stored {worker_values[snr_changed][0]!r}, new {object_snr!r}"
    )
    assert reasons[samples_changed].endswith("samples_count stored 62500, new 125000")
    loading = materialization_metadata(result, "measurements")[0]
    assert (loading["inserted"], loading["already present"], loading["conflicts"]) == (0, len(day) - 2, 2)
    assert loading["dagster/row_count"] == len(day)
    assert snr_changed in loading["conflicts (first)"] and samples_changed in loading["conflicts (first)"]
    conflict_check = check_evaluations(result)["no_conflicting_rows"]
    assert not conflict_check.passed and conflict_check.severity == AssetCheckSeverity.WARN
    assert conflict_check.metadata["conflicts"].value == 2
    assert conflict_check.description == "2 objects in conflict with a stored row (kept as it is)"
    assert "snr_db stored" in conflict_check.metadata["conflicts (first)"].value
    assert check_evaluations(result)["no_object_unaccounted"].passed  # a conflict is accounted for

    again = run_chain(resources, DAY.isoformat())

    # The day still has its conflicts until someone resolves them; nothing was re-loaded.
    assert materialization_metadata(again, "measurements")[0]["objects"] == 0
    assert check_evaluations(again)["no_conflicting_rows"].metadata["conflicts"].value == 2
    assert stored(db) == rows_before
