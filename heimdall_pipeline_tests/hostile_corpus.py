"""A corpus of hostile metadata objects: each a named kind with the reason code it must get.

Every kind is something a broken writer, a bug or an attacker can put in the bucket. The parser
must turn each into a rejection with a short reason (never an exception), and a day that mixes
them with good objects must load all of the good ones. Left out: a key with a NUL byte (it is
stopped at the listing, before any body is read; see the listing's own tests).
"""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from heimdall_pipeline.devtools.sample_data import encode, measurement_document, metadata_key
from heimdall_pipeline.ingest.measurement import MAX_OBJECT_BYTES


@dataclass(frozen=True)
class HostileObject:
    kind: str
    key: str
    body: bytes
    expected_code: str


def hostile_objects(day: date, seed: int = 0) -> list[HostileObject]:
    """One object of each hostile kind, with measurement times on `day` where a time is valid."""
    rng = random.Random(f"hostile-{day.isoformat()}-{seed}")
    noon = datetime.combine(day, time(12), tzinfo=UTC)
    cases: list[HostileObject] = []

    def task() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def document(websdr_id: int = 1) -> dict:
        return measurement_document(rng, websdr_id, 145.5, noon + timedelta(seconds=rng.randrange(3600)))

    def add(kind: str, code: str, body: bytes, websdr_id: int = 1, key: str | None = None) -> None:
        cases.append(HostileObject(kind, key or metadata_key(task(), websdr_id), body, code))

    def changed(kind: str, code: str, metrics: dict | None = None, **fields) -> None:
        """A good document of receiver 1 (key and body) with some fields or metrics changed."""
        doc = document()
        doc.update(fields)
        doc["metrics"].update(metrics or {})
        add(kind, code, encode(doc))

    def raw(kind: str, code: str, field: str, text: bytes, in_metrics: bool = False) -> None:
        """A document whose `field` holds raw JSON text (numbers json.dumps would not write)."""
        doc = document()
        (doc["metrics"] if in_metrics else doc)[field] = "@RAW@"
        add(kind, code, encode(doc).replace(b'"@RAW@"', text))

    # Structure and encoding.
    add("empty_body", "not_json", b"")
    add("whitespace_body", "not_json", b" \n\t \r\n")
    add("json_null", "not_an_object", b"null")
    add("json_array", "not_an_object", encode([document()]))
    add("json_string", "not_an_object", b'"sessions"')
    add("json_number", "not_an_object", b"42")
    add("truncated_json", "not_json", encode(document())[:-20])
    add("trailing_garbage", "not_json", encode(document()) + b" x")
    add("two_documents", "not_json", encode(document()) + encode(document()))
    add("comment_in_json", "not_json", b"// Heimdall\n" + encode(document()))
    add("single_quotes", "not_json", encode(document()).replace(b'"', b"'"))
    add("raw_control_character", "not_json", encode(document()).replace(b'"metrics"', b'"met\x01rics"'))
    add("utf8_bom", "not_json", b"\xef\xbb\xbf" + encode(document()))
    add("utf16_body", "not_utf8", json.dumps(document()).encode("utf-16"))
    add("utf32_body", "not_utf8", json.dumps(document()).encode("utf-32"))
    add("invalid_utf8", "not_utf8", encode(document()).replace(b"145.5", b'145.5, "x": "\xc3\x28"'))
    latin1 = json.dumps({**document(), "site": "Aosta caf\xe9"}, ensure_ascii=False).encode("latin-1")
    add("latin1_body", "not_utf8", latin1)
    add("lone_surrogate_escape", "not_utf8", encode({**document(), "site": "\ud800"}))
    add("deep_nesting_1025", "not_json", b"[" * 1025 + b"]" * 1025)
    add("deep_nesting_objects", "not_json", b'{"a":' * 5000 + b"1" + b"}" * 5000)
    add("deep_nesting_1024_array", "not_an_object", b"[" * 1024 + b"]" * 1024)
    add(
        "deep_nesting_in_metrics",
        "wrong_type",
        encode({**document(), "metrics": "@RAW@"}).replace(b'"@RAW@"', b"[" * 1000 + b"]" * 1000),
    )
    add("duplicate_key", "duplicate_key", encode(document())[:-2] + b',\n  "websdr_id": 1\n}')
    add("duplicate_metric", "duplicate_key", encode(document()).replace(b'"snr_db":', b'"snr_db": 99.0, "snr_db":'))
    add("nul_in_ignored_string", "nul_character", encode({**document(), "site": "Aosta\x00"}))
    add("nul_in_body_key", "nul_character", encode({**document(), "site\x00": 1}))
    add("huge_string_field", "bad_timestamp", encode({**document(), "timestamp_utc": "2" * 900_000}))
    add("too_large", "too_large", encode({**document(), "padding": "p" * MAX_OBJECT_BYTES}))

    # Keys.
    add("bad_key_letters", "bad_key", encode(document()), key=f"sessions/{task()}/websdr_x_metadata.json")
    add("bad_key_receiver_0", "bad_key", encode(document()), key=f"sessions/{task()}/websdr_0_metadata.json")
    add("bad_key_nested", "bad_key", encode(document()), key=f"sessions/{task()}/a/websdr_1_metadata.json")

    # Fields: presence and types.
    missing_metrics = document()
    del missing_metrics["metrics"]
    add("missing_metrics", "missing_field", encode(missing_metrics))
    missing_time = document()
    del missing_time["timestamp_utc"]
    add("missing_timestamp", "missing_field", encode(missing_time))
    changed("null_frequency", "missing_field", frequency_mhz=None)
    changed("boolean_receiver", "wrong_type", websdr_id=True)
    changed("boolean_snr", "wrong_type", metrics={"snr_db": False})
    changed("array_frequency", "wrong_type", frequency_mhz=[145.5])
    changed("object_sample_rate", "wrong_type", sample_rate_khz={"value": 12.5})
    add("metrics_array", "wrong_type", encode({**document(), "metrics": [1.0, 2.0]}))
    add("metrics_string", "wrong_type", encode({**document(), "metrics": "snr=10"}))
    changed("number_as_string", "wrong_type", samples_count="125000")
    changed("infinity_as_string", "wrong_type", metrics={"snr_db": "-inf"})
    changed("fractional_samples_count", "wrong_type", samples_count=1.5)
    changed("timestamp_as_number", "wrong_type", timestamp_utc=1_764_331_200)
    changed("nan_snr", "not_finite", metrics={"snr_db": float("nan")})
    changed("minus_infinity_offset", "not_finite", metrics={"frequency_offset_hz": float("-inf")})
    changed("infinity_frequency", "not_finite", frequency_mhz=float("inf"))

    # Numbers beyond a double, or beyond any plausible value.
    raw("integer_309_digits", "implausible", "frequency_mhz", b"1" + b"0" * 308)
    raw("integer_4300_digits", "implausible", "sample_rate_khz", b"9" * 4300)
    raw("integer_5000_digits", "implausible", "snr_db", b"9" * 5000, in_metrics=True)
    raw("integer_huge_samples_count", "out_of_range", "samples_count", b"9" * 400)
    raw("exponent_overflow", "implausible", "snr_db", b"1e400", in_metrics=True)
    raw("negative_exponent_overflow", "implausible", "power_dbm", b"-1E+999", in_metrics=True)
    changed("snr_1e200", "implausible", metrics={"snr_db": 1e200})
    changed("sample_rate_1e307", "implausible", sample_rate_khz=1e307)
    changed("offset_1e300", "implausible", metrics={"frequency_offset_hz": -1e300})
    changed("power_1e308", "implausible", metrics={"signal_power_dbm": 1.7e308})
    changed("frequency_above_6ghz", "implausible", frequency_mhz=6000.5)
    changed("samples_count_2e9", "implausible", samples_count=2_000_000_000)
    changed("samples_count_over_int32", "out_of_range", samples_count=2**40)
    changed("receiver_over_int32", "out_of_range", websdr_id=2**31)
    changed("negative_receiver", "non_positive", websdr_id=-1)
    changed("negative_zero_frequency", "non_positive", frequency_mhz=-0.0)
    changed("zero_sample_rate", "non_positive", sample_rate_khz=0)
    changed("receiver_mismatch", "receiver_mismatch", websdr_id=3)

    # Timestamps.
    changed("timestamp_overflow_negative_offset", "implausible", timestamp_utc="9999-12-31T23:00:00-05:00")
    changed("timestamp_overflow_positive_offset", "implausible", timestamp_utc="0001-01-01T00:30:00+01:00")
    changed("timestamp_year_9999", "implausible", timestamp_utc="9999-12-31T23:59:59.999999")
    changed("timestamp_before_2000", "implausible", timestamp_utc="1999-12-31T23:59:59Z")
    changed("timestamp_date_only", "bad_timestamp", timestamp_utc=day.isoformat())
    changed("timestamp_iso_week", "bad_timestamp", timestamp_utc=f"{day:%G-W%V-%u}")
    changed("timestamp_ordinal", "bad_timestamp", timestamp_utc=f"{day:%Y-%j}T12:00:00")
    changed("timestamp_trailing_nul", "nul_character", timestamp_utc=f"{day.isoformat()}T12:00:00\x00")
    changed("timestamp_space_separator", "bad_timestamp", timestamp_utc=f"{day.isoformat()} 12:00:00")
    changed("timestamp_month_13", "bad_timestamp", timestamp_utc="2026-13-01T12:00:00")
    changed("timestamp_offset_25h", "bad_timestamp", timestamp_utc=f"{day.isoformat()}T12:00:00+25:00")
    changed("timestamp_fullwidth_digits", "bad_timestamp", timestamp_utc="\uff12\uff10\uff12\uff16-11-28T12:00:00")
    changed("timestamp_free_text", "bad_timestamp", timestamp_utc="yesterday at noon")
    return cases
