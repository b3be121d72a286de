"""The measurement model and the parser for the metadata objects Heimdall writes to MinIO.

Format: docs/heimdall-format.md. A metadata object sits at
`sessions/{task_id}/websdr_{websdr_id}_metadata.json` beside its IQ recording
`sessions/{task_id}/websdr_{websdr_id}.npy`; its body is the measurement dict minus the IQ data.
Every rejection carries one clear reason, at most MAX_REASON_CHARS long; no body, however
hostile, makes the parser raise anything but RejectedObject. Nothing here touches the network
or the database.
"""

from __future__ import annotations

import json
import math
import numbers
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

METADATA_KEY = re.compile(r"^sessions/(?P<task_id>[^/\x00]+)/websdr_(?P<websdr_id>[1-9][0-9]{0,8})_metadata\.json$")
INT32_MAX = 2**31 - 1

# A real metadata object is under 1 kB; anything over this is rejected unread (from the listing's
# Size) or unparsed (if the body turns out larger).
MAX_OBJECT_BYTES = 1024 * 1024
# Rejection reasons go to the ledger and to Dagster's metadata: a hostile value must not make them large.
MAX_REASON_CHARS = 300
_SHOWN_STRING_CHARS = 60

# Plausible physical ranges, checked at parse time (code `implausible`). Generous enough for any
# receiver (HF to the top of the UHF/SHF band a WebSDR or SDR dongle reaches), tight enough that no
# accepted value can overflow a float8 aggregate downstream: every bound is below 1e9, so sums of
# squares over billions of rows (stddev, regr_slope) stay below 1e40, far from float8's 1.8e308.
FREQUENCY_MHZ_MAX = 6_000.0  # 0 < f <= 6 GHz
SAMPLE_RATE_KHZ_MAX = 100_000.0  # 0 < rate <= 100 MS/s
SAMPLES_COUNT_MAX = 1_000_000_000  # 1 <= n <= 1e9 (fits int4)
STORABLE_SNR_DB_RANGE = (-200.0, 200.0)  # what a row may hold; the checks judge against PLAUSIBLE_SNR_RANGE_DB
POWER_DBM_RANGE = (-300.0, 200.0)
FREQUENCY_OFFSET_HZ_MAX = 1e8  # |offset| <= 100 MHz, beyond any sample rate's Nyquist limit
# Measurement times: [2000-01-01, 2100-01-01) UTC. A fixed upper bound (not "now + 1 day") keeps
# parsing deterministic: the same object always gets the same outcome. Day bounds of the last
# accepted day (2099-12-31) are far from datetime's year-9999 limit.
TIMESTAMP_MIN = datetime(2000, 1, 1, tzinfo=UTC)
TIMESTAMP_MAX_EXCLUSIVE = datetime(2100, 1, 1, tzinfo=UTC)
_TIME_RANGE = f"{TIMESTAMP_MIN:%Y-%m-%d}..{TIMESTAMP_MAX_EXCLUSIVE:%Y-%m-%d} UTC"

# RFC 3339 date-time as Heimdall writes it (`datetime.utcnow().isoformat()`): YYYY-MM-DDTHH:MM:SS,
# optional fraction, optional `Z` or ±HH:MM (naive = UTC). Date-only, ISO week or ordinal dates,
# a space for the T and anything trailing are rejected. ASCII digits only.
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})?", re.ASCII)
# A key's closing quote and its ':'. Every key/value pair has one; a string may fake one (`\":`),
# so the count is an upper bound on the pairs in the text: equal to the pairs orjson kept means
# no key was duplicated, different means the exact (slower) check decides.
_KEY_SEPARATOR = re.compile(rb'"\s*:')

# Column order of `measurements` as the loader writes it (id comes from its sequence).
COLUMNS = (
    "task_id",
    "websdr_id",
    "frequency_mhz",
    "sample_rate_khz",
    "samples_count",
    "timestamp_utc",
    "snr_db",
    "frequency_offset_hz",
    "power_dbm",
    "s3_path",
)


def cap_reason(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """`text` cut to `limit` characters (marked with …), with no NUL (PostgreSQL text cannot hold one)."""
    text = text.replace("\x00", "\\x00")
    return text if len(text) <= limit else text[: limit - 1] + "…"


class RejectedObject(ValueError):
    """A metadata object that cannot become a measurement; `reason` says why, for the ledger."""

    def __init__(self, code: str, detail: str):
        reason = cap_reason(f"{code}: {detail}")
        super().__init__(reason)
        self.code = code
        self.detail = reason[len(code) + 2 :]

    @property
    def reason(self) -> str:
        return str(self)


def internal_error_reason(error: BaseException) -> str:
    """The reason for an object whose parsing raised something unexpected (a bug, not bad data)."""
    return cap_reason(f"internal_error: {type(error).__name__}: {_safe_str(error)}")


@dataclass(frozen=True, slots=True)
class Measurement:
    task_id: str
    websdr_id: int
    frequency_mhz: float
    sample_rate_khz: float
    samples_count: int
    timestamp_utc: datetime
    snr_db: float | None
    frequency_offset_hz: float | None
    power_dbm: float | None
    s3_path: str | None

    @property
    def primary_key(self) -> tuple[str, int, datetime]:
        return (self.task_id, self.websdr_id, self.timestamp_utc)

    def as_row(self) -> tuple:
        return (
            self.task_id,
            self.websdr_id,
            self.frequency_mhz,
            self.sample_rate_khz,
            self.samples_count,
            self.timestamp_utc,
            self.snr_db,
            self.frequency_offset_hz,
            self.power_dbm,
            self.s3_path,
        )

    @classmethod
    def from_measurement_dict(cls, task_id: str, measurement: dict[str, Any]) -> Measurement:
        """A measurement dict as Heimdall's acquisition task builds it (`iq_data_path` → `s3_path`).

        Numbers may be Python or numpy scalars. Raises RejectedObject with the reason when the
        dict is not a valid measurement.
        """
        if not isinstance(task_id, str) or not task_id:
            raise RejectedObject("missing_field", "task_id must be a non-empty string")
        if len(task_id) > MAX_TASK_ID_CHARS:  # Heimdall's are UUIDs; a long one would not fit the key's index
            raise RejectedObject("task_id_too_long", f"task_id has {len(task_id):,} characters, over {MAX_TASK_ID_CHARS}")
        _check_text("task_id", task_id)
        if not isinstance(measurement, dict):
            raise RejectedObject("not_an_object", f"the measurement is {_a(_json_type(measurement))}, not an object")
        s3_path = measurement.get("iq_data_path")
        if s3_path is not None:
            if not isinstance(s3_path, str):
                raise RejectedObject("wrong_type", f"iq_data_path must be a string, not {_json_type(s3_path)}")
            _check_text("iq_data_path", s3_path)
        return _validated(task_id, measurement, s3_path)


def parse_metadata_key(key: str) -> tuple[str, int]:
    """`(task_id, websdr_id)` from a metadata object's key."""
    match = METADATA_KEY.match(key)
    if not match:
        raise RejectedObject(
            "bad_key", f"{_show(key, 200)} is not in Heimdall's layout sessions/<task_id>/websdr_<id>_metadata.json"
        )
    return match["task_id"], int(match["websdr_id"])


def iq_path_for(bucket: str, task_id: str, websdr_id: int) -> str:
    return f"s3://{bucket}/sessions/{task_id}/websdr_{websdr_id}.npy"


def parse_metadata_object(bucket: str, key: str, body: bytes, max_bytes: int = MAX_OBJECT_BYTES) -> Measurement:
    """A measurement from one metadata object; raises RejectedObject with the reason."""
    task_id, key_websdr_id = parse_metadata_key(key)
    if len(body) > max_bytes:
        raise RejectedObject("too_large", f"the object is {len(body):,} bytes, over the {max_bytes:,}-byte limit")
    document = _decode_json(body)
    if not isinstance(document, dict):
        raise RejectedObject("not_an_object", f"the JSON document is {_a(_json_type(document))}, not an object")
    measurement = _validated(task_id, document, iq_path_for(bucket, task_id, key_websdr_id))
    if measurement.websdr_id != key_websdr_id:
        raise RejectedObject(
            "receiver_mismatch",
            f"the key names websdr_{key_websdr_id} but the body says websdr_id={measurement.websdr_id}",
        )
    return measurement


class _OversizedNumber:
    """A JSON number literal too large for a float8 (`1e400`, a 400-digit integer)."""

    __slots__ = ("literal",)

    def __init__(self, literal: str):
        self.literal = literal

    def __repr__(self) -> str:
        if len(self.literal) <= 24:
            return self.literal
        return f"{self.literal[:12]}…({len(self.literal)} characters)"


def _parse_json_int(literal: str) -> int | _OversizedNumber:
    # Python refuses int() of more than 4,300 digits, and float() of a 309-digit int overflows.
    return int(literal) if len(literal) <= 40 else _OversizedNumber(literal)


def _parse_json_float(literal: str) -> float | _OversizedNumber:
    value = float(literal)
    return _OversizedNumber(literal) if math.isinf(value) else value


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise RejectedObject("duplicate_key", f"key {_show(name)} appears more than once in one object")
            seen.add(name)
    return document


def _strict_json(text: str) -> Any:
    """The stdlib parser, for what orjson refuses: tells NaN/Infinity, huge numbers and duplicates apart."""
    return json.loads(text, object_pairs_hook=_unique_pairs, parse_int=_parse_json_int, parse_float=_parse_json_float)


def _decode_json(body: bytes) -> Any:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as fast_error:
        # orjson is strict; find out whether the body is not UTF-8, or JSON with NaN/Infinity
        # (Python's json.dumps writes those) or numbers beyond a double, or not JSON at all.
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise RejectedObject("not_utf8", f"byte {error.start} is not valid UTF-8") from None
        try:
            document = _strict_json(text)
        except RecursionError:
            raise RejectedObject("not_json", f"nested too deeply ({_safe_str(fast_error)})") from None
        except RejectedObject:
            raise
        except ValueError:
            detail = _safe_str(fast_error) if body.strip() else "the object is empty"
            raise RejectedObject("not_json", detail) from None
        _check_strings(document)
        return document
    # orjson keeps the last of duplicate keys silently: compare the pairs it kept with the key
    # separators in the text. orjson refuses lone surrogates and raw NULs, so only an escaped
    # \u0000 can put a NUL in a string.
    if _count_pairs(document) != len(_KEY_SEPARATOR.findall(body)):
        try:
            _strict_json(body.decode("utf-8"))  # raises duplicate_key, naming the key, if there is one
        except RecursionError:
            raise RejectedObject("duplicate_key", "a key may appear more than once (nested too deeply to tell)") from None
    if b"\\u0000" in body:
        _check_strings(document)
    return document


def _count_pairs(document: Any) -> int:
    """Key/value pairs in all objects of a parsed document (iterative: 1,024 levels are allowed)."""
    pairs = 0
    stack = [document]
    while stack:
        value = stack.pop()
        if type(value) is dict:
            pairs += len(value)
            stack.extend(value.values())
        elif type(value) is list:
            stack.extend(value)
    return pairs


def _check_strings(document: Any) -> None:
    """Reject strings PostgreSQL text cannot hold (NUL, lone surrogates) anywhere in the document."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            _check_text("a string", value)


MAX_TASK_ID_CHARS = 200
MAX_RECORDING_PATH_CHARS = 1024  # an S3 key is at most 1,024 bytes; with s3://bucket/ a path stays near it


def recording_location(s3_path: str, bucket: str, task_id: str) -> tuple[str, str]:
    """(bucket, key) of a measurement's recording, which must be this acquisition's: in `bucket`
    (the configured raw bucket) under `sessions/<task_id>/`, with no empty, `.` or `..` segment and
    at most MAX_RECORDING_PATH_CHARS characters. Anything else is RejectedObject, before any GET, so
    a stored path never makes the pipeline read another bucket or another acquisition."""
    if len(s3_path) > MAX_RECORDING_PATH_CHARS:
        raise RejectedObject("path_too_long", f"iq_data_path has {len(s3_path):,} characters, over {MAX_RECORDING_PATH_CHARS:,}")
    if s3_path.startswith("s3://"):
        path_bucket, _, key = s3_path[5:].partition("/")
    elif "://" in s3_path:
        raise RejectedObject("bad_s3_path", f"iq_data_path {_show(s3_path)} is not an s3:// path")
    else:
        path_bucket, key = bucket, s3_path.lstrip("/")
    if path_bucket != bucket:
        raise RejectedObject("foreign_bucket", f"iq_data_path names bucket {path_bucket[:63]!r}, not {bucket!r}")
    segments = key.split("/")
    if any(segment in ("", ".", "..") for segment in segments):
        raise RejectedObject("bad_s3_path", f"iq_data_path {_show(s3_path)} has an empty, '.' or '..' segment")
    if len(segments) < 3 or segments[0] != "sessions":
        raise RejectedObject(
            "task_mismatch", f"iq_data_path {_show(s3_path)} is not under sessions/<task_id>/ (Heimdall's layout)"
        )
    if segments[1] != task_id:
        raise RejectedObject(
            "task_mismatch", f"iq_data_path names task {segments[1][:80]!r}, not this acquisition's {task_id[:80]!r}"
        )
    return path_bucket, key


def _check_text(name: str, value: str) -> None:
    if "\x00" in value:
        raise RejectedObject("nul_character", f"{name} {_show(value)} contains a NUL character")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise RejectedObject("not_utf8", f"{name} {_show(value)} holds a lone UTF-16 surrogate") from None


def _validated(task_id: str, doc: dict[str, Any], s3_path: str | None) -> Measurement:
    metrics = doc.get("metrics")
    if metrics is None:
        raise RejectedObject("missing_field", "metrics is missing")
    if not isinstance(metrics, dict):
        raise RejectedObject("wrong_type", f"metrics must be an object, not {_a(_json_type(metrics))}")
    websdr_id = _integer(doc, "websdr_id", INT32_MAX)
    samples_count = _integer(doc, "samples_count", SAMPLES_COUNT_MAX)
    frequency_mhz = _number(doc, "frequency_mhz", (0.0, FREQUENCY_MHZ_MAX), positive=True)
    sample_rate_khz = _number(doc, "sample_rate_khz", (0.0, SAMPLE_RATE_KHZ_MAX), positive=True)
    assert frequency_mhz is not None and sample_rate_khz is not None  # required: _number raised otherwise
    power_dbm = _number(metrics, "power_dbm", POWER_DBM_RANGE, required=False, prefix="metrics.")
    if power_dbm is None:
        power_dbm = _number(metrics, "signal_power_dbm", POWER_DBM_RANGE, required=False, prefix="metrics.")
    return Measurement(
        task_id=task_id,
        websdr_id=websdr_id,
        frequency_mhz=frequency_mhz,
        sample_rate_khz=sample_rate_khz,
        samples_count=samples_count,
        timestamp_utc=_timestamp(doc),
        snr_db=_number(metrics, "snr_db", STORABLE_SNR_DB_RANGE, required=False, prefix="metrics."),
        frequency_offset_hz=_number(
            metrics,
            "frequency_offset_hz",
            (-FREQUENCY_OFFSET_HZ_MAX, FREQUENCY_OFFSET_HZ_MAX),
            required=False,
            prefix="metrics.",
        ),
        power_dbm=power_dbm,
        s3_path=s3_path,
    )


def _is_boolean(value: Any) -> bool:
    # numpy.bool_ is neither a bool nor a numbers.Number, but say what it is.
    return isinstance(value, bool) or (type(value).__module__ == "numpy" and type(value).__name__ in ("bool", "bool_"))


def _number(
    doc: dict[str, Any],
    name: str,
    bounds: tuple[float, float],
    *,
    required: bool = True,
    positive: bool = False,
    prefix: str = "",
) -> float | None:
    """A finite number within `bounds` (inclusive; with `positive`, the low bound is exclusive)."""
    value = doc.get(name)
    low, high = bounds
    if type(value) is float and low < value <= high:  # the common case, cheaply (NaN fails it)
        return value
    label = prefix + name
    if value is None:
        if required:
            raise RejectedObject("missing_field", f"{label} is missing")
        return None
    if isinstance(value, _OversizedNumber):
        raise RejectedObject("implausible", f"{label} is {value!r}, beyond any plausible value")
    if _is_boolean(value) or not isinstance(value, numbers.Real):
        raise RejectedObject("wrong_type", f"{label} must be a number, not {_json_type(value)} {_show(value)}")
    if isinstance(value, numbers.Integral):
        value = int(value)  # compared exactly below, before float() could overflow
    else:
        try:
            value = float(value)
        except (OverflowError, ValueError):
            raise RejectedObject("implausible", f"{label} is {_show(value)}, beyond any plausible value") from None
        if not math.isfinite(value):
            raise RejectedObject("not_finite", f"{label} is {value}")
    if positive and value <= 0:
        raise RejectedObject("non_positive", f"{label} must be positive, got {_show(value)}")
    if not low <= value <= high:
        raise RejectedObject("implausible", f"{label}={_show(value)} is outside the plausible range {low:g}..{high:g}")
    return float(value)


def _integer(doc: dict[str, Any], name: str, maximum: int) -> int:
    """A positive integer ≤ `maximum` (an integral float such as 125000.0 is accepted)."""
    value = doc.get(name)
    if type(value) is int and 0 < value <= maximum:  # the common case, cheaply
        return value
    if value is None:
        raise RejectedObject("missing_field", f"{name} is missing")
    if isinstance(value, _OversizedNumber):
        raise RejectedObject("out_of_range", f"{name}={value!r} does not fit a 32-bit integer")
    if _is_boolean(value) or not isinstance(value, numbers.Real):
        raise RejectedObject("wrong_type", f"{name} must be an integer, not {_json_type(value)} {_show(value)}")
    if not isinstance(value, numbers.Integral):
        number = float(value)
        if not math.isfinite(number):
            raise RejectedObject("not_finite", f"{name} is {number}")
        if not number.is_integer():
            raise RejectedObject("wrong_type", f"{name} must be an integer, not {_show(number)}")
        value = number
    value = int(value)
    if value <= 0:
        raise RejectedObject("non_positive", f"{name} must be positive, got {_show(value)}")
    if value > INT32_MAX:
        raise RejectedObject("out_of_range", f"{name}={_show(value)} does not fit a 32-bit integer")
    if value > maximum:
        raise RejectedObject("implausible", f"{name}={value} is over the plausible maximum {maximum:,}")
    return value


def _timestamp(doc: dict[str, Any]) -> datetime:
    value = doc.get("timestamp_utc")
    if value is None:
        raise RejectedObject("missing_field", "timestamp_utc is missing")
    if isinstance(value, datetime):  # from_measurement_dict callers may pass datetimes
        utc = _datetime_as_utc(value)
    elif isinstance(value, str):
        utc = _parse_timestamp(value)
    else:
        raise RejectedObject("wrong_type", f"timestamp_utc must be a string, not {_json_type(value)} {_show(value)}")
    if not TIMESTAMP_MIN <= utc < TIMESTAMP_MAX_EXCLUSIVE:
        raise RejectedObject(
            "implausible",
            f"timestamp_utc {utc.isoformat()} is outside {_TIME_RANGE}",
        )
    return utc


def _parse_timestamp(value: str) -> datetime:
    if len(value) <= 40 and _TIMESTAMP.fullmatch(value):
        # The year first: applying an offset to 9999-12-31 or 0001-01-01 overflows.
        _check_year(int(value[:4]))
        try:
            parsed = datetime.fromisoformat(value)  # fractions beyond microseconds are truncated
        except ValueError:
            pass  # month 13, hour 24, offset +25:00, ...
        else:
            if parsed.tzinfo is None:
                return parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
    raise RejectedObject(
        "bad_timestamp",
        f"timestamp_utc {_show(value)} is not an RFC 3339 date-time (YYYY-MM-DDTHH:MM:SS[.f][Z|±HH:MM])",
    )


def _datetime_as_utc(value: datetime) -> datetime:
    # Heimdall writes datetime.utcnow(): naive means UTC.
    _check_year(value.year)
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _check_year(year: int) -> None:
    if not TIMESTAMP_MIN.year - 1 <= year <= TIMESTAMP_MAX_EXCLUSIVE.year:
        raise RejectedObject(
            "implausible",
            f"timestamp_utc year {year} is outside {_TIME_RANGE}",
        )


def _show(value: Any, chars: int = _SHOWN_STRING_CHARS) -> str:
    """A short repr of any value, however large or deep (reasons are capped; this keeps them useful)."""
    try:
        if isinstance(value, str):
            if len(value) <= chars:
                return repr(value)
            return f"{value[:chars]!r}…({len(value):,} characters)"
        if isinstance(value, bool) or value is None:
            return repr(value)
        if isinstance(value, int):
            if value.bit_length() > 128:
                return f"an integer of about {int(value.bit_length() * 0.30103) + 1:,} digits"
            return repr(value)
        if isinstance(value, float):
            return repr(value)
        if isinstance(value, list):
            return f"[…{len(value)} items]"
        if isinstance(value, dict):
            return f"{{…{len(value)} keys}}"
        text = repr(value)
        return text if len(text) <= _SHOWN_STRING_CHARS else text[:_SHOWN_STRING_CHARS] + "…"
    except Exception:  # a hostile __repr__ must not escape
        return f"<{type(value).__name__}>"


def _safe_str(error: BaseException) -> str:
    try:
        return str(error)[:MAX_REASON_CHARS]
    except Exception:
        return "<unprintable>"


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if _is_boolean(value):
        return "boolean"
    if isinstance(value, (numbers.Number, _OversizedNumber)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
