"""The seed's Celery contract, `heimdall_pipeline.save_measurements_to_timescaledb`."""

from __future__ import annotations

import psycopg

from heimdall_pipeline import save_measurements_to_timescaledb


def _measurements(task_id: str) -> list[dict]:
    return [
        {
            "websdr_id": websdr_id,
            "frequency_mhz": 145.5,
            "sample_rate_khz": 12.5,
            "samples_count": 125000,
            "timestamp_utc": f"2025-10-22T10:30:4{websdr_id}.123456",
            "metrics": {"snr_db": 10.0 + websdr_id, "frequency_offset_hz": -1.5, "signal_power_dbm": -55.0},
            "iq_data_path": f"s3://heimdall-raw-iq/sessions/{task_id}/websdr_{websdr_id}.npy",
        }
        for websdr_id in range(1, 8)
    ]


def test_success_returns_the_count_and_stores_power(clean_database_url):
    result = save_measurements_to_timescaledb("task-1", _measurements("task-1"), clean_database_url)
    assert result == {"status": "SUCCESS", "measurements_count": 7, "inserted": 7, "duplicate": 0, "rejected": []}
    with psycopg.connect(clean_database_url) as conn:
        rows = conn.execute("SELECT websdr_id, power_dbm, s3_path FROM measurements ORDER BY websdr_id").fetchall()
    assert [r[0] for r in rows] == list(range(1, 8))
    assert all(r[1] == -55.0 for r in rows)
    assert rows[0][2] == "s3://heimdall-raw-iq/sessions/task-1/websdr_1.npy"


def test_a_retried_task_inserts_nothing_twice(clean_database_url):
    save_measurements_to_timescaledb("task-2", _measurements("task-2"), clean_database_url)
    result = save_measurements_to_timescaledb("task-2", _measurements("task-2"), clean_database_url)
    assert (result["status"], result["measurements_count"], result["inserted"], result["duplicate"]) == (
        "SUCCESS", 7, 0, 7,
    )


def test_invalid_measurements_are_reported_and_the_rest_saved(clean_database_url):
    measurements = _measurements("task-3")
    measurements[2]["metrics"]["snr_db"] = float("nan")
    del measurements[4]["frequency_mhz"]
    result = save_measurements_to_timescaledb("task-3", measurements, clean_database_url)
    assert result["status"] == "SUCCESS"
    assert (result["measurements_count"], result["inserted"]) == (5, 5)
    assert result["rejected"] == [
        {"index": 2, "reason": "not_finite: metrics.snr_db is nan"},
        {"index": 4, "reason": "missing_field: frequency_mhz is missing"},
    ]


def test_an_unreachable_database_fails_without_raising(clean_database_url):
    unreachable = "postgresql://nobody:wrong@127.0.0.1:1/none?connect_timeout=2"
    result = save_measurements_to_timescaledb("task-4", _measurements("task-4"), unreachable)
    assert result["status"] == "FAILED"
    assert "connection" in result["error"].lower()
