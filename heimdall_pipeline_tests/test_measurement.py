"""Parsing and validation of Heimdall's metadata objects (pure logic, no services)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from heimdall_pipeline.measurement import (
    MAX_OBJECT_BYTES,
    MAX_REASON_CHARS,
    Measurement,
    RejectedObject,
    parse_metadata_key,
    parse_metadata_object,
)
from heimdall_pipeline.sample_data import bad_objects, encode, generate_day

# Heimdall's own example objects, both variants of the format (docs/heimdall-format.md).
EXAMPLES = Path(__file__).resolve().parent / "fixtures" / "heimdall_examples"
BUCKET = "heimdall-raw-iq"


def _example_files() -> list[Path]:
    files = sorted(EXAMPLES.rglob("*_metadata.json"))
    assert len(files) == 4, f"expected Heimdall's four example objects under {EXAMPLES}"
    return files


def test_every_heimdall_example_parses_with_key_derived_fields():
    for path in _example_files():
        key = path.relative_to(EXAMPLES).as_posix()
        body = path.read_bytes()
        measurement = parse_metadata_object(BUCKET, key, body)
        document = json.loads(body)
        task_id = key.split("/")[1]
        assert measurement.task_id == task_id
        assert measurement.websdr_id == document["websdr_id"]
        assert measurement.s3_path == f"s3://{BUCKET}/sessions/{task_id}/websdr_{document['websdr_id']}.npy"
        assert measurement.frequency_mhz == document["frequency_mhz"]
        assert measurement.snr_db == document["metrics"]["snr_db"]
        expected_power = document["metrics"].get("power_dbm", document["metrics"].get("signal_power_dbm"))
        assert measurement.power_dbm == expected_power is not None
        assert measurement.timestamp_utc.tzinfo is not None


def test_current_format_example_exact_values():
    key = "sessions/3f1c9a52-7d0e-4b7a-9a61-2c5e8d4f0b17/websdr_2_metadata.json"
    body = (EXAMPLES / key).read_bytes()
    assert parse_metadata_object(BUCKET, key, body) == Measurement(
        task_id="3f1c9a52-7d0e-4b7a-9a61-2c5e8d4f0b17",
        websdr_id=2,
        frequency_mhz=145.5,
        sample_rate_khz=12.5,
        samples_count=125000,
        timestamp_utc=datetime(2025, 10, 22, 10, 30, 42, 123452, tzinfo=timezone.utc),
        snr_db=9.8,
        frequency_offset_hz=-12.0,
        power_dbm=-56.1,
        s3_path="s3://heimdall-raw-iq/sessions/3f1c9a52-7d0e-4b7a-9a61-2c5e8d4f0b17/websdr_2.npy",
    )


def _document(**changes) -> dict:
    document = {
        "websdr_id": 4, "frequency_mhz": 432.1, "sample_rate_khz": 12.5, "samples_count": 125000,
        "timestamp_utc": "2025-10-22T10:30:00",
        "metrics": {"snr_db": 3.5, "frequency_offset_hz": 1.5, "signal_power_dbm": -70.0},
    }
    document.update(changes)
    return document


KEY = "sessions/task-a/websdr_4_metadata.json"


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2025-10-22T10:30:00", datetime(2025, 10, 22, 10, 30, tzinfo=timezone.utc)),  # isoformat drops .000000
        ("2025-10-22T10:30:00.5", datetime(2025, 10, 22, 10, 30, 0, 500000, tzinfo=timezone.utc)),
        ("2025-10-22T10:30:00Z", datetime(2025, 10, 22, 10, 30, tzinfo=timezone.utc)),
        ("2025-10-22T12:30:00+02:00", datetime(2025, 10, 22, 10, 30, tzinfo=timezone.utc)),
        ("2025-10-22T05:30:00-05:00", datetime(2025, 10, 22, 10, 30, tzinfo=timezone.utc)),
    ],
)
def test_timestamps_naive_are_utc_and_offsets_convert(stamp, expected):
    measurement = parse_metadata_object(BUCKET, KEY, encode(_document(timestamp_utc=stamp)))
    assert measurement.timestamp_utc == expected
    assert measurement.timestamp_utc.utcoffset().total_seconds() == 0


def test_power_prefers_power_dbm_then_signal_power_dbm():
    both = _document(metrics={"snr_db": 1.0, "frequency_offset_hz": 0.0, "power_dbm": -40.0, "signal_power_dbm": -50.0})
    assert parse_metadata_object(BUCKET, KEY, encode(both)).power_dbm == -40.0
    neither = _document(metrics={"snr_db": 1.0})
    parsed = parse_metadata_object(BUCKET, KEY, encode(neither))
    assert parsed.power_dbm is None and parsed.frequency_offset_hz is None


def test_integers_written_as_floats_and_numbers_written_as_ints_are_accepted():
    parsed = parse_metadata_object(BUCKET, KEY, encode(_document(samples_count=125000.0, frequency_mhz=145)))
    assert parsed.samples_count == 125000 and isinstance(parsed.samples_count, int)
    assert parsed.frequency_mhz == 145.0 and isinstance(parsed.frequency_mhz, float)


def _reason(key: str, body: bytes) -> RejectedObject:
    with pytest.raises(RejectedObject) as caught:
        parse_metadata_object(BUCKET, key, body)
    return caught.value


@pytest.mark.parametrize(
    ("body", "code", "fragment"),
    [
        (b"", "not_json", "empty"),
        (b"{\"websdr_id\": 4,", "not_json", ""),
        (b"\xc3\x28{}", "not_utf8", "byte 0"),
        (b"[1, 2]", "not_an_object", "an array"),
        (b"\"text\"", "not_an_object", "a string"),
        (encode({k: v for k, v in _document().items() if k != "metrics"}), "missing_field", "metrics is missing"),
        (encode({k: v for k, v in _document().items() if k != "samples_count"}), "missing_field", "samples_count"),
        (encode({k: v for k, v in _document().items() if k != "timestamp_utc"}), "missing_field", "timestamp_utc"),
        (encode(_document(metrics=[1])), "wrong_type", "metrics must be an object"),
        (encode(_document(frequency_mhz="145.5")), "wrong_type", "frequency_mhz must be a number"),
        (encode(_document(websdr_id=True)), "wrong_type", "websdr_id must be an integer"),
        (encode(_document(samples_count=1.5)), "wrong_type", "samples_count must be an integer"),
        (encode(_document(timestamp_utc=1700000000)), "wrong_type", "timestamp_utc must be a string"),
        (encode(_document(metrics={"snr_db": "high"})), "wrong_type", "metrics.snr_db"),
        (encode(_document(metrics={"snr_db": float("nan")})), "not_finite", "metrics.snr_db is nan"),
        (encode(_document(frequency_mhz=float("inf"))), "not_finite", "frequency_mhz is inf"),
        (encode(_document(metrics={"snr_db": 1.0, "frequency_offset_hz": float("-inf")})), "not_finite", "offset"),
        (encode(_document(websdr_id=5)), "receiver_mismatch", "websdr_4"),
        (encode(_document(timestamp_utc="yesterday")), "bad_timestamp", "yesterday"),
        (encode(_document(timestamp_utc="2025-13-01T00:00:00")), "bad_timestamp", ""),
        (encode(_document(sample_rate_khz=0)), "non_positive", "sample_rate_khz"),
        (encode(_document(samples_count=0)), "non_positive", "samples_count"),
        (encode(_document(frequency_mhz=-1.0)), "non_positive", "frequency_mhz"),
        (encode(_document(samples_count=2**40)), "out_of_range", "32-bit"),
    ],
)
def test_each_rejection_has_one_clear_reason(body, code, fragment):
    rejection = _reason(KEY, body)
    assert rejection.code == code
    assert fragment in rejection.reason
    assert rejection.reason.startswith(f"{code}: ")


@pytest.mark.parametrize(
    "key",
    [
        "sessions/task-a/websdr_4.npy",
        "sessions/task-a/websdr_0_metadata.json",
        "sessions/task-a/websdr_x_metadata.json",
        "sessions/websdr_4_metadata.json",
        "other/task-a/websdr_4_metadata.json",
        "sessions/task-a/sub/websdr_4_metadata.json",
        "sessions/task-a/chunk_001_websdr_4_metadata.json",
    ],
)
def test_keys_outside_heimdalls_layout_are_rejected(key):
    assert _reason(key, encode(_document())).code == "bad_key"


def test_key_gives_task_and_receiver():
    assert parse_metadata_key("sessions/3f1c9a52-7d0e-4b7a-9a61-2c5e8d4f0b17/websdr_7_metadata.json") == (
        "3f1c9a52-7d0e-4b7a-9a61-2c5e8d4f0b17",
        7,
    )


def test_from_measurement_dict_maps_iq_data_path_and_sets_power():
    measurement = Measurement.from_measurement_dict(
        "task_12345",
        {**_document(), "iq_data_path": "s3://heimdall-raw-iq/sessions/task_12345/websdr_4.npy", "iq_data": None},
    )
    assert measurement.s3_path == "s3://heimdall-raw-iq/sessions/task_12345/websdr_4.npy"
    assert measurement.power_dbm == -70.0  # the seed never set it
    assert measurement.task_id == "task_12345"


def test_from_measurement_dict_accepts_datetime_timestamps():
    naive = datetime(2025, 10, 22, 10, 30)
    measurement = Measurement.from_measurement_dict("t", _document(timestamp_utc=naive))
    assert measurement.timestamp_utc == naive.replace(tzinfo=timezone.utc)


@pytest.mark.parametrize("task_id", ["", None])
def test_from_measurement_dict_needs_a_task_id(task_id):
    with pytest.raises(RejectedObject, match="task_id"):
        Measurement.from_measurement_dict(task_id, _document())


def test_sample_day_parses_and_bad_objects_get_their_reasons():
    day = date(2025, 10, 22)
    for obj in generate_day(day, sessions=30):
        assert parse_metadata_object(BUCKET, obj.key, obj.body).timestamp_utc.date() == day
    for obj in bad_objects(day):
        assert _reason(obj.key, obj.body).code == obj.expected_rejection


def test_generated_day_until_now_has_no_measurement_in_the_future_and_stable_bytes():
    day = date(2026, 11, 29)
    now = datetime(2026, 11, 29, 4, 28, tzinfo=timezone.utc)
    objects = generate_day(day, sessions=200, until=now)
    stamps = [parse_metadata_object(BUCKET, o.key, o.body).timestamp_utc for o in objects]
    assert len(stamps) > 200  # about 37 of the day's 200 sessions, up to 7 receivers each
    assert min(stamps) >= datetime(2026, 11, 29, tzinfo=timezone.utc)
    assert max(stamps) < now
    assert max(stamps) > now - timedelta(minutes=30)  # the sessions up to now, not only the first ones
    # A later run of the demo uploads the same bytes for these (same ETags) and only adds newer ones.
    later = generate_day(day, sessions=200, until=now + timedelta(hours=2))
    assert set(objects) < set(later)
    assert set(later) < set(generate_day(day, sessions=200))
