"""The measurement model and the parser for the metadata objects Heimdall writes to MinIO.

Format: docs/heimdall-format.md. A metadata object sits at
`sessions/{task_id}/websdr_{websdr_id}_metadata.json` beside its IQ recording
`sessions/{task_id}/websdr_{websdr_id}.npy`; its body is the measurement dict minus the IQ data.
Every rejection carries one clear reason; nothing here touches the network or the database.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson

METADATA_KEY = re.compile(r"^sessions/(?P<task_id>[^/]+)/websdr_(?P<websdr_id>[1-9][0-9]{0,8})_metadata\.json$")
INT32_MAX = 2**31 - 1

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


class RejectedObject(ValueError):
    """A metadata object that cannot become a measurement; `reason` says why, for the ledger."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

    @property
    def reason(self) -> str:
        return str(self)


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
    def from_measurement_dict(cls, task_id: str, measurement: dict[str, Any]) -> "Measurement":
        """A measurement dict as Heimdall's acquisition task builds it (`iq_data_path` → `s3_path`).

        Raises RejectedObject with the reason when the dict is not a valid measurement.
        """
        if not isinstance(task_id, str) or not task_id:
            raise RejectedObject("missing_field", "task_id must be a non-empty string")
        if not isinstance(measurement, dict):
            raise RejectedObject("not_an_object", f"the measurement is {_a(_json_type(measurement))}, not an object")
        s3_path = measurement.get("iq_data_path")
        if s3_path is not None and not isinstance(s3_path, str):
            raise RejectedObject("wrong_type", "iq_data_path must be a string")
        return _validated(task_id, measurement, s3_path)


def parse_metadata_key(key: str) -> tuple[str, int]:
    """`(task_id, websdr_id)` from a metadata object's key."""
    match = METADATA_KEY.match(key)
    if not match:
        raise RejectedObject(
            "bad_key", f"{key!r} is not in Heimdall's layout sessions/<task_id>/websdr_<id>_metadata.json"
        )
    return match["task_id"], int(match["websdr_id"])


def iq_path_for(bucket: str, task_id: str, websdr_id: int) -> str:
    return f"s3://{bucket}/sessions/{task_id}/websdr_{websdr_id}.npy"


def parse_metadata_object(bucket: str, key: str, body: bytes) -> Measurement:
    """A measurement from one metadata object; raises RejectedObject with the reason."""
    task_id, key_websdr_id = parse_metadata_key(key)
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


def _decode_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as fast_error:
        # orjson is strict; find out whether the body is not UTF-8, or JSON with NaN/Infinity
        # (Python's json.dumps writes those), or not JSON at all.
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as error:
            raise RejectedObject("not_utf8", f"byte {error.start} is not valid UTF-8") from None
        try:
            return json.loads(text)
        except ValueError:
            detail = str(fast_error) if body.strip() else "the object is empty"
            raise RejectedObject("not_json", detail) from None


def _validated(task_id: str, doc: dict[str, Any], s3_path: str | None) -> Measurement:
    metrics = doc.get("metrics")
    if metrics is None:
        raise RejectedObject("missing_field", "metrics is missing")
    if not isinstance(metrics, dict):
        raise RejectedObject("wrong_type", f"metrics must be an object, not {_a(_json_type(metrics))}")
    websdr_id = _integer(doc, "websdr_id")
    samples_count = _integer(doc, "samples_count")
    frequency_mhz = _number(doc, "frequency_mhz")
    sample_rate_khz = _number(doc, "sample_rate_khz")
    for name, value in (
        ("websdr_id", websdr_id),
        ("frequency_mhz", frequency_mhz),
        ("sample_rate_khz", sample_rate_khz),
        ("samples_count", samples_count),
    ):
        if value <= 0:
            raise RejectedObject("non_positive", f"{name} must be positive, got {value}")
    power_dbm = _number(metrics, "power_dbm", required=False, prefix="metrics.")
    if power_dbm is None:
        power_dbm = _number(metrics, "signal_power_dbm", required=False, prefix="metrics.")
    return Measurement(
        task_id=task_id,
        websdr_id=websdr_id,
        frequency_mhz=frequency_mhz,
        sample_rate_khz=sample_rate_khz,
        samples_count=samples_count,
        timestamp_utc=_timestamp(doc),
        snr_db=_number(metrics, "snr_db", required=False, prefix="metrics."),
        frequency_offset_hz=_number(metrics, "frequency_offset_hz", required=False, prefix="metrics."),
        power_dbm=power_dbm,
        s3_path=s3_path,
    )


def _number(doc: dict[str, Any], name: str, *, required: bool = True, prefix: str = "") -> float | None:
    value = doc.get(name)
    if value is None:
        if required:
            raise RejectedObject("missing_field", f"{prefix}{name} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RejectedObject("wrong_type", f"{prefix}{name} must be a number, not {_json_type(value)} {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise RejectedObject("not_finite", f"{prefix}{name} is {value}")
    return value


def _integer(doc: dict[str, Any], name: str) -> int:
    value = doc.get(name)
    if value is None:
        raise RejectedObject("missing_field", f"{name} is missing")
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise RejectedObject("not_finite", f"{name} is {value}")
    if isinstance(value, bool) or not isinstance(value, int):
        raise RejectedObject("wrong_type", f"{name} must be an integer, not {_json_type(value)} {value!r}")
    if value > INT32_MAX:
        raise RejectedObject("out_of_range", f"{name}={value} does not fit a 32-bit integer")
    return value


def _timestamp(doc: dict[str, Any]) -> datetime:
    value = doc.get("timestamp_utc")
    if value is None:
        raise RejectedObject("missing_field", "timestamp_utc is missing")
    if isinstance(value, datetime):  # from_measurement_dict callers may pass datetimes
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise RejectedObject("bad_timestamp", f"timestamp_utc {value!r} is not an ISO 8601 date-time") from None
    else:
        raise RejectedObject("wrong_type", f"timestamp_utc must be a string, not {_json_type(value)} {value!r}")
    # Heimdall writes datetime.utcnow().isoformat(): naive means UTC.
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=timezone.utc)
    return parsed.astimezone(timezone.utc)


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__
