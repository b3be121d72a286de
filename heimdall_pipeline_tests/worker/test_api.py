"""The seed's Celery contract, `heimdall_pipeline.save_measurements_to_timescaledb`: SUCCESS /
PARTIAL / FAILED, and `retryable` only where a later call may succeed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from fractions import Fraction

import numpy as np
import psycopg
import pytest

from heimdall_pipeline import save_measurements_to_timescaledb
from heimdall_pipeline.core.db import connect
from heimdall_pipeline.core.settings import ConfigError
from heimdall_pipeline.ingest.measurement import MAX_REASON_CHARS
from heimdall_pipeline.worker.api import is_transient_database_error
from heimdall_pipeline_tests.measurement_rows import heimdall_acquisition


def test_success_returns_the_count_and_stores_power(clean_database_url):
    result = save_measurements_to_timescaledb("task-1", heimdall_acquisition("task-1"), database_url=clean_database_url)
    assert result == {
        "status": "SUCCESS",
        "retryable": False,
        "measurements_count": 7,
        "inserted": 7,
        "duplicate": 0,
        "present": 0,
        "conflicts": [],
        "rejected": [],
        "rejected_count": 0,
        # Heimdall's own task answers with these; its callers read them.
        "successful": 7,
        "failed": 0,
        "message": "Stored 7/7 measurements",
        "task_id": "task-1",
    }
    with connect(clean_database_url, autocommit=False) as conn:
        rows = conn.execute("SELECT websdr_id, power_dbm, s3_path FROM measurements ORDER BY websdr_id").fetchall()
    assert [r[0] for r in rows] == list(range(1, 8))
    assert all(r[1] == -55.0 for r in rows)
    assert rows[0][2] == "s3://heimdall-raw-iq/sessions/task-1/websdr_1.npy"


def test_a_retried_task_inserts_nothing_twice(clean_database_url):
    save_measurements_to_timescaledb("task-2", heimdall_acquisition("task-2"), database_url=clean_database_url)
    result = save_measurements_to_timescaledb("task-2", heimdall_acquisition("task-2"), database_url=clean_database_url)
    assert (result["status"], result["measurements_count"], result["inserted"], result["duplicate"]) == (
        "SUCCESS",
        7,
        0,
        7,
    )


def test_a_row_stored_with_other_values_is_a_conflict_and_kept(clean_database_url):
    save_measurements_to_timescaledb("task-c", heimdall_acquisition("task-c"), database_url=clean_database_url)
    changed = heimdall_acquisition("task-c")
    changed[1]["metrics"]["snr_db"] = 3.25
    result = save_measurements_to_timescaledb("task-c", changed, database_url=clean_database_url)
    assert (result["status"], result["retryable"], result["measurements_count"]) == ("PARTIAL_FAILURE", False, 6)
    assert (result["inserted"], result["duplicate"], result["present"]) == (0, 7, 6)
    [conflict] = result["conflicts"]
    assert (conflict["websdr_id"], conflict["timestamp_utc"]) == (2, "2025-10-22T10:30:42.123456+00:00")
    assert "snr_db stored 12" in conflict["reason"] and "3.25" in conflict["reason"]
    with connect(clean_database_url, autocommit=False) as conn:
        assert conn.execute("SELECT snr_db FROM measurements WHERE websdr_id = 2").fetchone() == (12.0,)

    only_conflicts = save_measurements_to_timescaledb("task-c", changed[1:2], database_url=clean_database_url)
    assert (only_conflicts["status"], only_conflicts["retryable"], only_conflicts["measurements_count"]) == ("FAILED", False, 0)
    assert "conflict" in only_conflicts["error"] and len(only_conflicts["conflicts"]) == 1


def test_invalid_measurements_are_reported_and_the_rest_saved(clean_database_url):
    measurements = heimdall_acquisition("task-3")
    measurements[2]["metrics"]["snr_db"] = float("nan")
    del measurements[4]["frequency_mhz"]
    result = save_measurements_to_timescaledb("task-3", measurements, database_url=clean_database_url)
    assert (result["status"], result["retryable"]) == ("PARTIAL_FAILURE", False)
    assert (result["measurements_count"], result["inserted"]) == (5, 5)
    assert result["rejected"] == [
        {"index": 2, "reason": "not_finite: metrics.snr_db is nan"},
        {"index": 4, "reason": "missing_field: frequency_mhz is missing"},
    ]


def test_an_unreachable_database_is_a_retryable_failure(clean_database_url):
    unreachable = "postgresql://nobody:wrong@127.0.0.1:1/none?connect_timeout=2"
    result = save_measurements_to_timescaledb("task-4", heimdall_acquisition("task-4"), database_url=unreachable)
    assert (result["status"], result["retryable"], result["measurements_count"], result["inserted"]) == ("FAILED", True, 0, 0)
    assert "connection" in result["error"].lower() and "wrong" not in result["error"]


def test_a_call_whose_every_measurement_is_rejected_fails_and_is_not_retryable(clean_database_url):
    measurements = heimdall_acquisition("task-5")
    for document in measurements:
        del document["frequency_mhz"]
    result = save_measurements_to_timescaledb("task-5", measurements, database_url=clean_database_url)
    assert (result["status"], result["retryable"], result["measurements_count"]) == ("FAILED", False, 0)
    assert result["error"] == "all 7 measurements were rejected (the first: missing_field: frequency_mhz is missing)"
    assert [r["index"] for r in result["rejected"]] == list(range(7))


def test_an_empty_call_succeeds_with_nothing_stored(clean_database_url):
    result = save_measurements_to_timescaledb("task-6", [], database_url=clean_database_url)
    assert (result["status"], result["retryable"], result["measurements_count"], result["rejected"]) == ("SUCCESS", False, 0, [])


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        (
            "s3://heimdall-raw-iq/sessions/task-other/websdr_3.npy",
            "task_mismatch: iq_data_path names task 'task-other', not this acquisition's 'task-7'",
        ),
        (
            "sessions/task-other/websdr_3.npy",
            "task_mismatch: iq_data_path names task 'task-other', not this acquisition's 'task-7'",
        ),
        (
            "s3://heimdall-raw-iq/websdr_3.npy",
            "task_mismatch: iq_data_path 's3://heimdall-raw-iq/websdr_3.npy' is not under "
            "sessions/<task_id>/ (Heimdall's layout)",
        ),
        (
            "s3://heimdall-raw-iq/sessions/task-7-b/websdr_3.npy",
            "task_mismatch: iq_data_path names task 'task-7-b', not this acquisition's 'task-7'",
        ),
        # Another bucket was accepted and then read with the pipeline's credentials; so were '..' and 10 MB.
        (
            "s3://someone-elses-bucket/sessions/task-7/websdr_3.npy",
            "foreign_bucket: iq_data_path names bucket 'someone-elses-bucket', not 'heimdall-raw-iq'",
        ),
        (
            "s3://heimdall-raw-iq/sessions/task-7/../task-8/websdr_3.npy",
            "bad_s3_path: iq_data_path 's3://heimdall-raw-iq/sessions/task-7/../task-8/websdr_3.npy' has an "
            "empty, '.' or '..' segment",
        ),
        (
            "s3://heimdall-raw-iq/sessions/task-7/" + "x" * 10_000_000,
            "path_too_long: iq_data_path has 10,000,037 characters, over 1,024",
        ),
    ],
)
def test_a_measurement_whose_recording_is_another_acquisitions_is_rejected(clean_database_url, path, reason):
    measurements = heimdall_acquisition("task-7")
    measurements[2]["iq_data_path"] = path
    measurements[4]["iq_data_path"] = "sessions/task-7/websdr_5.npy"  # a bare key of this task is fine
    del measurements[5]["iq_data_path"]  # no path: nothing to contradict the task id

    result = save_measurements_to_timescaledb("task-7", measurements, database_url=clean_database_url)

    assert (result["status"], result["inserted"], result["rejected"]) == ("PARTIAL_FAILURE", 6, [{"index": 2, "reason": reason}])
    assert [row[0] for row in _stored(clean_database_url, "task-7")] == [1, 2, 4, 5, 6, 7]


def _server_error(database_url: str, statement: str) -> psycopg.Error:
    with connect(database_url) as conn:
        with pytest.raises(psycopg.Error) as raised:
            conn.execute(statement)
    return raised.value


@pytest.mark.parametrize(
    ("statement", "sqlstate", "transient"),
    [
        ("SELECT pg_terminate_backend(pg_backend_pid())", "57P01", True),  # admin shutdown
        ("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'serialization_failure'; END $$", "40001", True),
        ("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'deadlock_detected'; END $$", "40P01", True),
        ("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'too_many_connections'; END $$", "53300", True),
        ("DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = 'lock_not_available'; END $$", "55P03", True),
        ("SELECT 1/0", "22012", False),
        ("INSERT INTO measurements (task_id) VALUES ('x')", "23502", False),  # not null violation
        ("DROP TABLE measurements", "42501", False),  # the pipeline role may not
    ],
)
def test_transient_database_errors_from_the_server_are_retryable_and_others_not(database_url, statement, sqlstate, transient):
    error = _server_error(database_url, statement)
    assert error.sqlstate == sqlstate
    assert is_transient_database_error(error) is transient


def test_a_lost_connection_is_retryable_and_configuration_is_not(database_url):
    with connect(database_url) as conn:
        conn.pgconn.finish()  # the socket is gone, as when the server crashes mid-call
        with pytest.raises(psycopg.OperationalError) as raised:
            conn.execute("SELECT 1")
    assert raised.value.sqlstate is None and is_transient_database_error(raised.value)
    assert not is_transient_database_error(ConfigError("HEIMDALL_DATABASE_URL is not set"))
    assert not is_transient_database_error(ValueError("a bug"))


def _stored(database_url: str, task_id: str) -> list[tuple]:
    with connect(database_url, autocommit=False) as conn:
        return conn.execute(
            "SELECT websdr_id, frequency_mhz, sample_rate_khz, samples_count, snr_db, frequency_offset_hz, power_dbm"
            " FROM measurements WHERE task_id = %s ORDER BY websdr_id",
            (task_id,),
        ).fetchall()


@pytest.mark.parametrize(
    ("hostile", "code"),
    [
        ({"timestamp_utc": "9999-12-31T23:00:00-05:00"}, "implausible"),
        ({"timestamp_utc": "0001-01-01T00:30:00+01:00"}, "implausible"),
        ({"timestamp_utc": datetime(9999, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5)))}, "implausible"),
        ({"timestamp_utc": datetime(1, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1)))}, "implausible"),
        ({"frequency_mhz": 10**308}, "implausible"),
        ({"sample_rate_khz": 10**5000}, "implausible"),
        ({"samples_count": -(10**400)}, "non_positive"),
        ({"frequency_mhz": Fraction(10**400, 3)}, "implausible"),
        ({"metrics": {"snr_db": 1e200}}, "implausible"),
        ({"iq_data_path": "s3://heimdall-raw-iq/a\x00b.npy"}, "nul_character"),
        ({"iq_data_path": "s3://heimdall-raw-iq/\ud800.npy"}, "not_utf8"),
        ({"iq_data_path": 7}, "wrong_type"),
        ({"timestamp_utc": "2026-11-28"}, "bad_timestamp"),
        ({"websdr_id": True}, "wrong_type"),
        ({"metrics": {"snr_db": "x" * 10_000_000}}, "wrong_type"),
    ],
)
def test_a_hostile_dict_is_rejected_and_the_six_valid_ones_stored(clean_database_url, hostile, code):
    measurements = heimdall_acquisition("task-h")
    if "metrics" in hostile:
        measurements[3]["metrics"].update(hostile["metrics"])
    else:
        measurements[3].update(hostile)

    result = save_measurements_to_timescaledb("task-h", measurements, database_url=clean_database_url)

    assert (result["status"], result["measurements_count"], result["inserted"]) == ("PARTIAL_FAILURE", 6, 6)
    [rejection] = result["rejected"]
    assert rejection["index"] == 3 and rejection["reason"].startswith(f"{code}: "), rejection
    assert len(rejection["reason"]) <= MAX_REASON_CHARS
    assert [row[0] for row in _stored(clean_database_url, "task-h")] == [1, 2, 3, 5, 6, 7]


def test_other_hostile_items_in_the_list_are_rejected(clean_database_url):
    measurements = [*heimdall_acquisition("task-l")[:6], None, "text", [1, 2], {"websdr_id": 7}]
    result = save_measurements_to_timescaledb("task-l", measurements, database_url=clean_database_url)
    assert (result["status"], result["inserted"]) == ("PARTIAL_FAILURE", 6)
    assert [(r["index"], r["reason"].split(":")[0]) for r in result["rejected"]] == [
        (6, "not_an_object"),
        (7, "not_an_object"),
        (8, "not_an_object"),
        (9, "missing_field"),
    ]


@pytest.mark.parametrize("measurements", [None, 42, "not a list", {"websdr_id": 1}])
def test_measurements_that_are_not_a_list_fail_without_raising(clean_database_url, measurements):
    result = save_measurements_to_timescaledb("task-n", measurements, database_url=clean_database_url)
    assert (result["status"], result["retryable"]) == ("FAILED", False) and "list" in result["error"]


@pytest.mark.parametrize("task_id", ["task\x00nul", "\ud800", "t" * 10_000])
def test_a_task_id_postgresql_cannot_hold_fails_the_call_without_raising(clean_database_url, task_id):
    """A 10 KB task_id answered FAILED with an empty `rejected` (the index refused it): now each dict says why."""
    measurements = heimdall_acquisition("task-x")
    for measurement in measurements:
        del measurement["iq_data_path"]
    result = save_measurements_to_timescaledb(task_id, measurements, database_url=clean_database_url)
    assert (result["status"], result["retryable"], result["measurements_count"], result["inserted"]) == ("FAILED", False, 0, 0)
    assert [r["index"] for r in result["rejected"]] == list(range(7)) and result["rejected_count"] == 7
    assert all(
        r["reason"].startswith(("nul_character: task_id", "not_utf8: task_id", "task_id_too_long: task_id has 10,000"))
        for r in result["rejected"]
    )
    with connect(clean_database_url, autocommit=False) as conn:
        assert conn.execute("SELECT count(*) FROM measurements").fetchone()[0] == 0


def test_numpy_numbers_are_accepted_and_numpy_booleans_are_not(clean_database_url):
    measurements = heimdall_acquisition("task-np")
    for index, document in enumerate(measurements):
        document["frequency_mhz"] = np.float64(145.5)
        document["sample_rate_khz"] = np.float32(12.5)
        document["samples_count"] = np.int64(125_000) if index % 2 else np.float64(125_000.0)
        document["websdr_id"] = np.int32(document["websdr_id"])
        document["metrics"] = {
            "snr_db": np.float32(10.25 + index),
            "frequency_offset_hz": np.float64(-1.5),
            "signal_power_dbm": np.int64(-55),
        }
    measurements[5]["metrics"]["snr_db"] = np.bool_(True)
    measurements[6]["samples_count"] = np.bool_(True)

    result = save_measurements_to_timescaledb("task-np", measurements, database_url=clean_database_url)

    assert (result["status"], result["inserted"]) == ("PARTIAL_FAILURE", 5)
    assert [(r["index"], r["reason"].split(":")[0]) for r in result["rejected"]] == [(5, "wrong_type"), (6, "wrong_type")]
    assert "boolean" in result["rejected"][0]["reason"]
    assert _stored(clean_database_url, "task-np") == [
        (websdr_id, 145.5, 12.5, 125_000, 10.25 + websdr_id - 1, -1.5, -55.0) for websdr_id in range(1, 6)
    ]


def test_the_answer_lists_the_first_hundred_rejections_and_counts_them_all(clean_database_url):
    """100,000 invalid dicts made a 6.5 MB answer in the result backend."""
    result = save_measurements_to_timescaledb("task-big", [{"websdr_id": "x"}] * 5_000, database_url=clean_database_url)
    assert (result["status"], result["rejected_count"], len(result["rejected"])) == ("FAILED", 5_000, 100)
    assert len(json.dumps(result)) < 20_000


def test_heimdalls_three_arguments_fill_the_recording_paths_and_its_callers_read_the_answer(clean_database_url):
    """Heimdall calls save_measurements_to_timescaledb(task_id, measurements, s3_paths) with s3_paths
    mapping websdr_id to the recording (string keys once through JSON); its callers read `status`
    (SUCCESS / PARTIAL_FAILURE / FAILED), `successful` and `failed`."""
    measurements = heimdall_acquisition("task-h3")
    for measurement in measurements:
        del measurement["iq_data_path"]
    s3_paths = {str(m["websdr_id"]): f"s3://heimdall-raw-iq/sessions/task-h3/websdr_{m['websdr_id']}.npy" for m in measurements}
    measurements[6]["iq_data_path"] = "s3://heimdall-raw-iq/sessions/task-h3/other.npy"  # contradicts s3_paths

    result = save_measurements_to_timescaledb("task-h3", measurements, s3_paths, database_url=clean_database_url)

    assert (result["status"], result["successful"], result["failed"]) == ("PARTIAL_FAILURE", 6, 1)
    assert result["message"] == "Stored 6/7 measurements" and result["task_id"] == "task-h3"
    assert result["rejected"][0]["reason"].startswith("path_conflict: iq_data_path")
    with connect(clean_database_url, autocommit=False) as conn:
        paths = [p for (p,) in conn.execute("SELECT s3_path FROM measurements WHERE task_id = 'task-h3' ORDER BY websdr_id")]
    assert paths == [f"s3://heimdall-raw-iq/sessions/task-h3/websdr_{n}.npy" for n in range(1, 7)]
    assert save_measurements_to_timescaledb("task-h3", [], "not a dict", database_url=clean_database_url)["status"] == "FAILED"
