"""The seed's Celery-side entry point, kept so Heimdall's acquisition worker can call it as is.

Compared with the seed: no ORM, bulk COPY, idempotent (a retried task inserts nothing twice),
`power_dbm` is filled, and invalid measurement dicts are reported instead of failing the batch.
"""

from __future__ import annotations

import logging
from typing import Any

from heimdall_pipeline.db import DatabaseConnectionError, connect
from heimdall_pipeline.loader import load_measurements
from heimdall_pipeline.measurement import Measurement, RejectedObject, internal_error_reason
from heimdall_pipeline.migrations import require_current_schema_once
from heimdall_pipeline.settings import ConfigError, Settings, redact

logger = logging.getLogger(__name__)


def save_measurements_to_timescaledb(
    task_id: str, measurements: list[dict[str, Any]], database_url: str | None = None
) -> dict[str, Any]:
    """Save one acquisition's measurement dicts to the `measurements` hypertable.

    Returns `{'status': 'SUCCESS', 'measurements_count': n, 'inserted': i, 'duplicate': d,
    'rejected': [{'index': k, 'reason': ...}]}` (n = valid measurements now stored), or
    `{'status': 'FAILED', 'error': ...}` when the database could not be reached or written, or
    `measurements` is not a list. Never raises: an invalid dict (or task_id, which every dict of
    the call shares) is listed under `rejected` and the valid ones are stored.
    """
    if not isinstance(measurements, (list, tuple)):
        return {"status": "FAILED", "error": f"measurements must be a list of dicts, not {type(measurements).__name__}"}
    valid: list[Measurement] = []
    rejected: list[dict[str, Any]] = []
    for index, measurement in enumerate(measurements):
        try:
            valid.append(Measurement.from_measurement_dict(task_id, measurement))
        except RejectedObject as error:
            rejected.append({"index": index, "reason": error.reason})
        except Exception as error:  # noqa: BLE001 - a parser bug rejects this dict, never the call
            logger.exception("task %s: measurement %d: unexpected error while validating it", _shown(task_id), index)
            rejected.append({"index": index, "reason": internal_error_reason(error)})
    for item in rejected[:20]:
        logger.warning("task %s: measurement %d rejected: %s", _shown(task_id), item["index"], item["reason"])
    url = database_url
    try:
        url = url or Settings.from_env().database_url
        with connect(url) as conn:
            require_current_schema_once(conn, url)  # the schema is heimdall-migrate's, never this call's
            result = load_measurements(conn, valid)
    except Exception as error:  # noqa: BLE001 - the Celery contract reports, never raises
        message = redact(str(error), url)
        # Configuration and connection errors are one line already; others keep their trace.
        expected = isinstance(error, (ConfigError, DatabaseConnectionError))
        logger.error("TimescaleDB storage failed for task %s: %s", _shown(task_id), message, exc_info=not expected)
        return {"status": "FAILED", "error": message}
    logger.info(
        "task %s: %d measurements stored (%d new, %d already there), %d rejected",
        _shown(task_id), len(valid), result.inserted, result.duplicate, len(rejected),
    )
    return {
        "status": "SUCCESS",
        "measurements_count": len(valid),
        "inserted": result.inserted,
        "duplicate": result.duplicate,
        "rejected": rejected,
    }


def _shown(task_id: Any) -> str:
    """The task id for a log line: bounded, NUL and all escaped by repr."""
    return repr(task_id[:80]) if isinstance(task_id, str) else f"<{type(task_id).__name__}>"
