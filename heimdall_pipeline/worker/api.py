"""The seed's Celery-side entry point, kept so Heimdall's acquisition worker can call it as is.

Compared with the seed: no ORM, bulk COPY, idempotent (a retried task inserts nothing twice),
`power_dbm` is filled, invalid measurement dicts are reported instead of failing the batch, and the
answer's `status` (SUCCESS / PARTIAL / FAILED) with `retryable` tells Heimdall whether to retry.
The Celery task that wraps it is heimdall_pipeline/worker/celery_app.py.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from heimdall_pipeline.core.db import DatabaseConnectionError, connect
from heimdall_pipeline.core.settings import ConfigError, Settings, raw_bucket, redact
from heimdall_pipeline.ingest.loader import load_measurements
from heimdall_pipeline.ingest.measurement import Measurement, RejectedObject, internal_error_reason, recording_location
from heimdall_pipeline.schema.migrations import SchemaBehindError, require_current_schema_once

logger = logging.getLogger(__name__)

SUCCESS = "SUCCESS"  # every dict valid and now stored (inserted, or already there with its values)
PARTIAL = "PARTIAL_FAILURE"  # some stored, some rejected or conflicting (Heimdall's own word for it)
FAILED = "FAILED"  # nothing stored; `retryable` says whether the same call may succeed later
# The answer lists the first rejections and counts them all: 100,000 invalid dicts made a 6.5 MB
# answer in the result backend. Conflicts are capped by the loader (MAX_REPORTED_CONFLICTS).
MAX_LISTED_REJECTIONS = 100

# The key of an acquisition's objects, `sessions/<task_id>/...`, bare or as s3://<bucket>/sessions/...

# SQLSTATEs after which the same statements may succeed later: the server went away or is starting
# or shutting down (class 08, 57P01-57P03), the transaction lost a race (class 40: serialization
# failure, deadlock), the server ran short (class 53: disk, memory, connections), a lock or a
# statement timed out (55P03, 57014).
_TRANSIENT_SQLSTATE_CLASSES = ("08", "40", "53")
_TRANSIENT_SQLSTATES = frozenset({"55P03", "57014", "57P01", "57P02", "57P03", "57P05"})


def is_transient_database_error(error: BaseException) -> bool:
    """True when a database error may go away by itself, so retrying the call later makes sense."""
    if isinstance(error, DatabaseConnectionError):  # refused, timed out, unknown host: not there now
        return True
    if not isinstance(error, psycopg.Error):
        return False
    if error.sqlstate is None:  # the connection broke mid-call: libpq's error, no server answer
        return isinstance(error, psycopg.OperationalError)
    return error.sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES or error.sqlstate in _TRANSIENT_SQLSTATES


MAX_S3_PATHS = 1_000  # Heimdall's s3_paths has one entry per receiver


def save_measurements_to_timescaledb(
    task_id: str,
    measurements: list[dict[str, Any]],
    s3_paths: dict[int | str, str] | None = None,
    *,
    database_url: str | None = None,
) -> dict[str, Any]:
    """Save one acquisition's measurement dicts to the `measurements` hypertable.

    The arguments are Heimdall's own task's (`save_measurements_to_timescaledb(task_id, measurements,
    s3_paths=None)`): `s3_paths` maps a receiver's websdr_id (an int, or its string once through
    JSON) to its recording, and gives the `iq_data_path` of each dict that has none; a dict whose
    own path differs from it is rejected as `path_conflict`.

    Every answer has `status`, `retryable`, `measurements_count` (valid measurements now stored),
    `inserted`, `duplicate` (key already there: `present` with the same values, or a conflict),
    `present`, `conflicts` (`[{'websdr_id', 'timestamp_utc', 'reason'}]`: the stored row holds other
    values and is kept), `rejected` (`[{'index': k, 'reason': ...}]`, the first 100) and
    `rejected_count`, and Heimdall's own fields `successful`, `failed`, `message`, `task_id`:
    - SUCCESS: every dict valid and stored;
    - PARTIAL_FAILURE (Heimdall's word): some stored, the others listed under `rejected` or
      `conflicts`; not retryable;
    - FAILED (with `error`): nothing stored. `retryable` is true when the database could not be
      reached or failed transiently (is_transient_database_error), false for invalid input (every
      dict rejected, a task_id PostgreSQL cannot hold, `measurements` not a list), configuration,
      or every valid dict conflicting with a stored row.
    Never raises. A dict whose `iq_data_path` is not this acquisition's recording in the raw bucket
    (HEIMDALL_S3_BUCKET, `sessions/<task_id>/...`) is rejected: `foreign_bucket`, `task_mismatch`,
    `bad_s3_path` (a `.` or `..` segment) or `path_too_long` (over 1,024 characters).
    """
    answer = _save(task_id, measurements, s3_paths, database_url)
    count = len(measurements) if isinstance(measurements, (list, tuple)) else 0
    return {**answer, **heimdall_fields(task_id, count, answer["measurements_count"])}


def _save(task_id: str, measurements, s3_paths, database_url: str | None) -> dict[str, Any]:
    if not isinstance(measurements, (list, tuple)):
        return failed_answer(f"measurements must be a list of dicts, not {type(measurements).__name__}", retryable=False)
    if s3_paths is not None and (not isinstance(s3_paths, dict) or len(s3_paths) > MAX_S3_PATHS):
        return failed_answer(f"s3_paths must be a dict of at most {MAX_S3_PATHS} websdr_id -> path entries", retryable=False)
    bucket = raw_bucket()
    valid: list[Measurement] = []
    rejected: list[dict[str, Any]] = []
    for index, measurement in enumerate(measurements):
        try:
            measurement = _with_recording_path(measurement, s3_paths)
            parsed = Measurement.from_measurement_dict(task_id, measurement)
            if parsed.s3_path is not None:  # the recording must be this acquisition's, in our bucket
                recording_location(parsed.s3_path, bucket, task_id)
            valid.append(parsed)
        except RejectedObject as error:
            rejected.append({"index": index, "reason": error.reason})
        except Exception as error:  # a parser bug rejects this dict, never the call
            logger.exception("task %s: measurement %d: unexpected error while validating it", shown_task_id(task_id), index)
            rejected.append({"index": index, "reason": internal_error_reason(error)})
    for item in rejected[:20]:
        logger.warning("task %s: measurement %d rejected: %s", shown_task_id(task_id), item["index"], item["reason"])
    if rejected and not valid:  # nothing to store; the database is not asked
        message = f"all {len(rejected)} measurements were rejected (the first: {rejected[0]['reason']})"
        logger.error("task %s: %s", shown_task_id(task_id), message)
        return failed_answer(message, retryable=False, rejected=rejected)
    url = database_url
    try:
        url = url or Settings.from_env().database_url
        with connect(url) as conn:
            require_current_schema_once(conn, url)  # the schema is heimdall-migrate's, never this call's
            result = load_measurements(conn, valid)
    except Exception as error:  # the Celery contract reports, never raises
        message = redact(str(error), url)
        retryable = is_transient_database_error(error)
        # Configuration and connection errors are one line already; others keep their trace.
        expected = retryable or isinstance(error, (ConfigError, SchemaBehindError))
        logger.error(
            "TimescaleDB storage failed for task %s (%s): %s",
            shown_task_id(task_id),
            "retryable" if retryable else "not retryable",
            message,
            exc_info=not expected,
        )
        return failed_answer(message, retryable=retryable, rejected=rejected)
    conflicts = [
        {"websdr_id": c.websdr_id, "timestamp_utc": c.timestamp_utc.isoformat(), "reason": c.reason}
        for c in result.conflict_examples
    ]
    stored = len(valid) - result.conflicts
    logger.info(
        "task %s: %d measurements stored (%d new, %d already there), %d conflicting with a stored row, %d rejected",
        shown_task_id(task_id),
        stored,
        result.inserted,
        result.present,
        result.conflicts,
        len(rejected),
    )
    for conflict in conflicts[:20]:
        logger.warning("task %s: receiver %d: %s", shown_task_id(task_id), conflict["websdr_id"], conflict["reason"])
    answer = {
        "status": PARTIAL if rejected or result.conflicts else SUCCESS,
        "retryable": False,
        "measurements_count": stored,
        "inserted": result.inserted,
        "duplicate": result.duplicate,
        "present": result.present,
        "conflicts": conflicts,
        "rejected": rejected[:MAX_LISTED_REJECTIONS],
        "rejected_count": len(rejected),
    }
    if stored == 0 and result.conflicts:  # every valid dict met a stored row with other values
        answer.update(status=FAILED, error=f"all {result.conflicts} measurements conflict with stored rows (kept)")
    return answer


def _with_recording_path(measurement: Any, s3_paths: dict[int | str, str] | None) -> Any:
    """The dict with its recording's path from Heimdall's `s3_paths` (by websdr_id) when it has none."""
    if not s3_paths or not isinstance(measurement, dict):
        return measurement
    websdr_id = measurement.get("websdr_id")
    if isinstance(websdr_id, bool) or not isinstance(websdr_id, (int, str)):
        return measurement
    path = s3_paths.get(websdr_id, s3_paths.get(str(websdr_id)))
    if path is None:
        return measurement
    own = measurement.get("iq_data_path")
    if own is not None and own != path:
        raise RejectedObject("path_conflict", f"iq_data_path {str(own)[:120]!r} differs from s3_paths' {str(path)[:120]!r}")
    return {**measurement, "iq_data_path": path}


def heimdall_fields(task_id: Any, count: int, stored: int) -> dict[str, Any]:
    """The fields Heimdall's own task answers with, beside ours, so its callers read either."""
    return {
        "successful": stored,
        "failed": count - stored,
        "message": f"Stored {stored}/{count} measurements",
        "task_id": task_id if isinstance(task_id, str) and len(task_id) <= 200 else None,
    }


def failed_answer(error: str, *, retryable: bool, rejected: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The FAILED answer: nothing stored, `error` says why."""
    rejected = rejected or []
    return {
        "status": FAILED,
        "retryable": retryable,
        "error": error,
        "measurements_count": 0,
        "inserted": 0,
        "duplicate": 0,
        "present": 0,
        "conflicts": [],
        "rejected": rejected[:MAX_LISTED_REJECTIONS],
        "rejected_count": len(rejected),
    }


def shown_task_id(task_id: Any) -> str:
    """The task id for a log line: bounded, NUL and all escaped by repr."""
    return repr(task_id[:80]) if isinstance(task_id, str) else f"<{type(task_id).__name__}>"
