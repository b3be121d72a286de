"""Parsing and validation of Heimdall's metadata objects (pure logic, no services)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from heimdall_pipeline.devtools.sample_data import bad_objects, encode, generate_day
from heimdall_pipeline.ingest.measurement import (
    MAX_OBJECT_BYTES,
    MAX_REASON_CHARS,
    Measurement,
    RejectedObject,
    parse_metadata_key,
    parse_metadata_object,
)

# Heimdall's own example objects, both variants of the format (docs/heimdall-format.md).
EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "heimdall_examples"
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
        timestamp_utc=datetime(2025, 10, 22, 10, 30, 42, 123452, tzinfo=UTC),
        snr_db=9.8,
        frequency_offset_hz=-12.0,
        power_dbm=-56.1,
        s3_path="s3://heimdall-raw-iq/sessions/3f1c9a52-7d0e-4b7a-9a61-2c5e8d4f0b17/websdr_2.npy",
    )


def _document(**changes) -> dict:
    document = {
        "websdr_id": 4,
        "frequency_mhz": 432.1,
        "sample_rate_khz": 12.5,
        "samples_count": 125000,
        "timestamp_utc": "2025-10-22T10:30:00",
        "metrics": {"snr_db": 3.5, "frequency_offset_hz": 1.5, "signal_power_dbm": -70.0},
    }
    document.update(changes)
    return document


KEY = "sessions/task-a/websdr_4_metadata.json"


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2025-10-22T10:30:00", datetime(2025, 10, 22, 10, 30, tzinfo=UTC)),  # isoformat drops .000000
        ("2025-10-22T10:30:00.5", datetime(2025, 10, 22, 10, 30, 0, 500000, tzinfo=UTC)),
        ("2025-10-22T10:30:00Z", datetime(2025, 10, 22, 10, 30, tzinfo=UTC)),
        ("2025-10-22T12:30:00+02:00", datetime(2025, 10, 22, 10, 30, tzinfo=UTC)),
        ("2025-10-22T05:30:00-05:00", datetime(2025, 10, 22, 10, 30, tzinfo=UTC)),
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
        (b'{"websdr_id": 4,', "not_json", ""),
        (b"\xc3\x28{}", "not_utf8", "byte 0"),
        (b"[1, 2]", "not_an_object", "an array"),
        (b'"text"', "not_an_object", "a string"),
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
    assert measurement.timestamp_utc == naive.replace(tzinfo=UTC)


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
    now = datetime(2026, 11, 29, 4, 28, tzinfo=UTC)
    objects = generate_day(day, sessions=200, until=now)
    stamps = [parse_metadata_object(BUCKET, o.key, o.body).timestamp_utc for o in objects]
    assert len(stamps) > 200  # about 37 of the day's 200 sessions, up to 7 receivers each
    assert min(stamps) >= datetime(2026, 11, 29, tzinfo=UTC)
    assert max(stamps) < now
    assert max(stamps) > now - timedelta(minutes=30)  # the sessions up to now, not only the first ones
    # A later run of the demo uploads the same bytes for these (same ETags) and only adds newer ones.
    later = generate_day(day, sessions=200, until=now + timedelta(hours=2))
    assert set(objects) < set(later)
    assert set(later) < set(generate_day(day, sessions=200))


# --- hostile bodies: always a RejectedObject with a short reason, never another exception ---------


def _raw(document: dict, **replacements: bytes) -> bytes:
    """`document` encoded, with `"<name>": <placeholder>` values replaced by raw JSON text."""
    body = encode(document)
    for placeholder, raw in replacements.items():
        body = body.replace(f'"{placeholder}"'.encode(), raw)
    return body


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"[" * 1024 + b"]" * 1024, "not_an_object"),  # orjson's limit: parsed, then refused
        (b"[" * 1025 + b"]" * 1025, "not_json"),  # beyond it: the stdlib fallback would recurse
        (b'{"a":' * 5000 + b"1" + b"}" * 5000, "not_json"),
        (_raw(_document(metrics="M"), M=b"[" * 1000 + b"]" * 1000), "wrong_type"),
        (encode(_document(timestamp_utc="9999-12-31T23:00:00-05:00")), "implausible"),
        (encode(_document(timestamp_utc="0001-01-01T00:30:00+01:00")), "implausible"),
        (encode(_document(timestamp_utc="9999-12-31T23:59:59.999999")), "implausible"),
        (_raw(_document(frequency_mhz="F"), F=b"1" + b"0" * 308), "implausible"),  # 309 digits
        (_raw(_document(sample_rate_khz="F"), F=b"9" * 4300), "implausible"),
        (_raw(_document(sample_rate_khz="F"), F=b"9" * 4301), "implausible"),  # over int's max str digits
        (_raw(_document(samples_count="F"), F=b"9" * 5000), "out_of_range"),
        (_raw(_document(websdr_id="F"), F=b"-" + b"9" * 400), "out_of_range"),
        (_raw(_document(metrics={"snr_db": "F"}), F=b"1e400"), "implausible"),
        (_raw(_document(metrics={"snr_db": "F"}), F=b"-1E+999"), "implausible"),
    ],
)
def test_hostile_bodies_are_rejections_not_exceptions(body, code):
    rejection = _reason(KEY, body)
    assert rejection.code == code, rejection.reason
    assert len(rejection.reason) <= MAX_REASON_CHARS


def test_a_huge_value_gives_a_capped_reason():
    within_the_size_limit = "x" * 1_000_000
    for document in (_document(timestamp_utc=within_the_size_limit), _document(frequency_mhz=within_the_size_limit)):
        rejection = _reason(KEY, encode(document))
        assert rejection.code in ("bad_timestamp", "wrong_type")
        assert len(rejection.reason) <= MAX_REASON_CHARS
        assert "1,000,000 characters" in rejection.reason
    # The worker API has no body to measure: a 10 MB value still gives a short reason.
    with pytest.raises(RejectedObject) as caught:
        Measurement.from_measurement_dict("t", _document(timestamp_utc="x" * 10_000_000))
    assert len(caught.value.reason) <= MAX_REASON_CHARS and "10,000,000 characters" in caught.value.reason
    long_key = f"sessions/{'k' * 5000}/websdr_x_metadata.json"
    assert len(_reason(long_key, encode(_document())).reason) <= MAX_REASON_CHARS


def test_reasons_are_capped_and_hold_no_nul():
    assert RejectedObject("bad_key", "y" * 1000).reason == "bad_key: " + "y" * (MAX_REASON_CHARS - 10) + "…"
    assert len(RejectedObject("bad_key", "y" * 1000).reason) == MAX_REASON_CHARS
    assert "\x00" not in RejectedObject("x", "a\x00b").reason


def test_a_body_over_the_size_limit_is_too_large_before_parsing():
    body = encode(_document(padding="p" * 2000))
    assert parse_metadata_object(BUCKET, KEY, body).websdr_id == 4  # within the default 1 MiB
    with pytest.raises(RejectedObject) as caught:
        parse_metadata_object(BUCKET, KEY, body, max_bytes=1000)
    assert caught.value.code == "too_large"
    assert f"{len(body):,} bytes" in caught.value.reason
    assert MAX_OBJECT_BYTES == 1024 * 1024


# --- plausible ranges: every bound accepted, just beyond it rejected ------------------------------

BOUNDS = [
    # (field, accepted at the bound, rejected just beyond, code beyond)
    ("frequency_mhz", 6000.0, 6000.001, "implausible"),
    ("frequency_mhz", 1e-9, 0.0, "non_positive"),
    ("sample_rate_khz", 100_000.0, 100_000.5, "implausible"),
    ("sample_rate_khz", 1e-9, -0.0, "non_positive"),
    ("samples_count", 1_000_000_000, 1_000_000_001, "implausible"),
    ("samples_count", 1, 0, "non_positive"),
    ("snr_db", 200.0, 200.5, "implausible"),
    ("snr_db", -200.0, -200.5, "implausible"),
    ("power_dbm", 200.0, 1e200, "implausible"),
    ("power_dbm", -300.0, -300.1, "implausible"),
    ("signal_power_dbm", -300.0, -1e308, "implausible"),
    ("frequency_offset_hz", 1e8, 1e8 + 1, "implausible"),
    ("frequency_offset_hz", -1e8, -1e307, "implausible"),
    ("timestamp_utc", "2000-01-01T00:00:00", "1999-12-31T23:59:59.999999", "implausible"),
    ("timestamp_utc", "2099-12-31T23:59:59.999999", "2100-01-01T00:00:00", "implausible"),
    ("timestamp_utc", "2000-01-01T01:00:00+01:00", "2000-01-01T00:59:59+01:00", "implausible"),
    ("timestamp_utc", "2099-12-31T18:59:59-05:00", "2099-12-31T19:00:00-05:00", "implausible"),
]
METRIC_FIELDS = {"snr_db", "power_dbm", "signal_power_dbm", "frequency_offset_hz"}


def _with(field: str, value) -> bytes:
    if field in METRIC_FIELDS:
        return encode(_document(metrics={field: value}))
    return encode(_document(**{field: value}))


@pytest.mark.parametrize(("field", "inside", "beyond", "code"), BOUNDS)
def test_each_plausible_range_bound_is_inclusive_and_checked(field, inside, beyond, code):
    parsed = parse_metadata_object(BUCKET, KEY, _with(field, inside))
    if field == "timestamp_utc":
        assert parsed.timestamp_utc == datetime.fromisoformat(inside).astimezone(UTC)
    else:
        assert getattr(parsed, "power_dbm" if field == "signal_power_dbm" else field) == inside
    rejection = _reason(KEY, _with(field, beyond))
    assert rejection.code == code, rejection.reason
    assert rejection.reason.startswith(f"{code}: ")


# --- what a timestamp may look like: RFC 3339, as Heimdall writes it -------------------------------


@pytest.mark.parametrize(
    "stamp",
    [
        "2026-11-28",  # date only
        "2026-W48-1",  # ISO week date
        "2026-W48-1T10:00:00",
        "2026-332T10:00:00",  # ordinal date
        "2026-332",
        "20261128T100000",  # basic format
        "2026-11-28 10:00:00",  # a space for the T: Heimdall never writes one
        "2026-11-28t10:00:00",
        "2026-11-28T10:00",  # no seconds
        "2026-11-28T10:00:00z",
        "2026-11-28T10:00:00+0100",
        "2026-11-28T10:00:00+01",
        "2026-11-28T10:00:00+24:00",
        "2026-11-28T10:00:00.",
        "2026-11-28T10:00:00.1234567890",  # more than nanoseconds
        "2026-11-28T10:00:00,5",
        " 2026-11-28T10:00:00",
        "2026-11-28T10:00:00 ",
        "2026-11-28T10:00:00\n",
        "2026-11-28T24:00:00",
        "2026-11-28T10:00:60",  # leap second: datetime cannot hold it
        "2026-02-29T10:00:00",
        "\uff12\uff10\uff12\uff16-11-28T10:00:00",  # full-width digits
        "+2026-11-28T10:00:00",
    ],
)
def test_lenient_timestamps_are_rejected(stamp):
    rejection = _reason(KEY, encode(_document(timestamp_utc=stamp)))
    assert rejection.code == "bad_timestamp", rejection.reason


def test_a_timestamp_with_a_trailing_nul_is_rejected():
    assert _reason(KEY, encode(_document(timestamp_utc="2026-11-28T10:00:00\x00"))).code == "nul_character"


def test_fractions_beyond_microseconds_are_truncated():
    parsed = parse_metadata_object(BUCKET, KEY, encode(_document(timestamp_utc="2026-11-28T10:00:00.123456789Z")))
    assert parsed.timestamp_utc == datetime(2026, 11, 28, 10, 0, 0, 123456, tzinfo=UTC)


# --- duplicate keys, and strings PostgreSQL cannot hold ---------------------------------------------


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (b'{"websdr_id": 4, "websdr_id": 4, "frequency_mhz": 1.0}', "websdr_id"),
        (encode(_document()).replace(b'"snr_db": 3.5', b'"snr_db": 3.5, "snr_db": 90.0'), "snr_db"),
        (encode(_document(extra=[{"a": 1}])).replace(b'"extra": [', b'"extra": [{"a": 1, "a": 2},'), "a"),
        (b'{"websdr_id": 4, "websdr_id": NaN}', "websdr_id"),  # through the stdlib fallback
    ],
)
def test_duplicate_keys_are_rejected_naming_the_key(body, key):
    rejection = _reason(KEY, body)
    assert rejection.code == "duplicate_key"
    assert repr(key) in rejection.reason


@pytest.mark.parametrize(
    "note",
    ['a\\":b', '":', "\\u0000 written out", "k: v", '\\"key\\": 1'],
)
def test_key_like_text_inside_strings_is_no_duplicate(note):
    body = encode(_document(note=note))
    assert parse_metadata_object(BUCKET, KEY, body).websdr_id == 4


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (encode(_document(note="a\x00b")), "nul_character"),
        (encode(_document(**{"key\x00": 1})), "nul_character"),
        (encode(_document(metrics={"snr_db": 1.0, "label": ["x", "\x00"]})), "nul_character"),
        (encode(_document(note="\ud800")), "not_utf8"),  # json.dumps escapes it; orjson refuses it
        (encode(_document(note="\udfff tail", metrics={"snr_db": float("nan")})), "not_utf8"),
    ],
)
def test_strings_postgresql_cannot_hold_are_rejected(body, code):
    assert _reason(KEY, body).code == code
