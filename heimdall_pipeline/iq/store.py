"""The iq_metrics table: which recordings an upload day still needs, computing them, storing the outcome.

An upload day's recordings are those of the measurements its objects name, whoever inserted the
row (ingest_ledger loaded / updated, or present / conflict when Heimdall's worker stored it
first). One is (re)computed when iq_metrics has no row for it, when its row was computed with
another ALGORITHM_VERSION, when the measurement now names another recording, or when the last
attempt was `missing` or `failed` (it may be there now). A computed or rejected
recording at the current version is never read again, so re-running a day costs one query.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import psycopg

from heimdall_pipeline.core.db import column_names, read_sql
from heimdall_pipeline.core.locks import advisory_locks
from heimdall_pipeline.core.object_store import DEFAULT_GET_RETRY, GetRetryPolicy
from heimdall_pipeline.ingest.uploads import upload_day_bounds
from heimdall_pipeline.iq import metrics as iq_metrics
from heimdall_pipeline.iq.recordings import (
    COMPUTED,
    DEFAULT_IQ_CONCURRENCY,
    DEFAULT_MAX_RECORDING_BYTES,
    FAILED,
    MISSING,
    REJECTED,
    ReadStats,
    RecordingRequest,
    RecordingResult,
    read_recordings,
)

STATUSES = (COMPUTED, REJECTED, MISSING, FAILED)
RETRIED_STATUSES = (MISSING, FAILED)
STORE_BATCH = 500  # results written per transaction: a crash loses at most this much work


def current_version() -> int:
    """iq_metrics.ALGORITHM_VERSION, read at call time (a test may change it)."""
    return iq_metrics.ALGORITHM_VERSION


@dataclass(frozen=True, slots=True)
class DayRecording:
    request: RecordingRequest
    status: str | None  # what iq_metrics holds: None when nothing yet
    algorithm_version: int | None
    computed_s3_path: str | None

    def needs_computing(self, version: int) -> bool:
        return (
            self.status is None
            or self.status in RETRIED_STATUSES
            or self.algorithm_version != version
            or self.computed_s3_path != self.request.s3_path
        )


def day_recordings(conn: psycopg.Connection, start: datetime, end: datetime) -> list[DayRecording]:
    """Every measurement loaded by the uploads of [start, end), with its iq_metrics state."""
    rows = conn.execute(read_sql("iq/day_recordings.sql"), {"start": start, "end": end}).fetchall()
    return [
        DayRecording(
            RecordingRequest(task_id, websdr_id, timestamp, s3_path, samples_count, sample_rate_khz * 1000.0),
            status,
            version,
            computed_s3_path,
        )
        for task_id, websdr_id, timestamp, s3_path, samples_count, sample_rate_khz, status, version, computed_s3_path in rows
    ]


def _row(result: RecordingResult, version: int) -> dict:
    request, metrics = result.request, result.metrics
    row = {
        "task_id": request.task_id,
        "websdr_id": request.websdr_id,
        "timestamp_utc": request.timestamp_utc,
        "s3_path": request.s3_path,
        "status": result.status,
        "reason": result.reason,
        "recording_bytes": result.recording_bytes,
        "algorithm_version": metrics.algorithm_version if metrics is not None else version,
    }
    for name in (
        "snr_db",
        "frequency_offset_hz",
        "signal_power_dbfs",
        "noise_floor_dbfs",
        "occupied_bandwidth_hz",
        "clipping_ratio",
        "dc_spike",
        "no_signal",
        "samples_count",
        "samples_count_mismatch",
    ):
        value = getattr(metrics, name) if metrics is not None else None
        row[name] = _plain(value)
    return row


def _plain(value):
    """numpy scalars as Python ones (psycopg adapts those); NaN/inf as NULL."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    number = float(value)
    return number if number == number and abs(number) != float("inf") else None


def store_results(conn: psycopg.Connection, results: Iterable[RecordingResult], version: int) -> None:
    """Upsert the outcomes in one transaction."""
    rows = [_row(result, version) for result in results]
    if not rows:
        return
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(read_sql("iq/upsert_iq_metrics.sql"), rows)


@dataclass
class IQDayResult:
    recordings: int = 0  # measurements of the day's uploads
    already_current: int = 0  # computed or rejected at the current version: not read again
    read: int = 0  # recordings read (or attempted) in this run
    outcomes: dict[str, int] = field(default_factory=lambda: {status: 0 for status in STATUSES})
    rejections: list[tuple[str, str]] = field(default_factory=list)  # (task/receiver, reason), first few
    stats: ReadStats = field(default_factory=ReadStats)

    @property
    def recordings_per_second(self) -> float:
        return self.read / self.stats.seconds if self.stats.seconds > 0 else 0.0


def compute_and_store_day(
    conn: psycopg.Connection,
    s3,
    default_bucket: str,
    start: datetime,
    end: datetime,
    concurrency: int = DEFAULT_IQ_CONCURRENCY,
    max_bytes: int = DEFAULT_MAX_RECORDING_BYTES,
    retry: GetRetryPolicy = DEFAULT_GET_RETRY,
    listed_rejections: int = 20,
) -> IQDayResult:
    """Read and compute the recordings of [start, end)'s uploads that need it; store every outcome.

    Never raises for a recording: each ends computed, rejected, missing or failed, with a reason.
    """
    version = current_version()
    recordings = day_recordings(conn, start, end)
    todo = [r.request for r in recordings if r.needs_computing(version)]
    result = IQDayResult(recordings=len(recordings), already_current=len(recordings) - len(todo), read=len(todo))
    batch: list[RecordingResult] = []
    for outcome in read_recordings(s3, default_bucket, todo, concurrency, max_bytes, retry, result.stats):
        result.outcomes[outcome.status] += 1
        if outcome.reason and len(result.rejections) < listed_rejections:
            request = outcome.request
            result.rejections.append((f"{request.task_id} / websdr {request.websdr_id}", outcome.reason))
        batch.append(outcome)
        if len(batch) >= STORE_BATCH:
            store_results(conn, batch, version)
            batch = []
    store_results(conn, batch, version)
    return result


def iq_day_lock(day: date) -> str:
    """The advisory lock of one upload day's IQ work: two IQ runs of a day never read its recordings twice."""
    return f"heimdall:iq-day:{day}"


def compute_and_store_upload_day(
    conn: psycopg.Connection,
    s3,
    default_bucket: str,
    day: date,
    *,
    concurrency: int = DEFAULT_IQ_CONCURRENCY,
    max_bytes: int = DEFAULT_MAX_RECORDING_BYTES,
    log: Any = None,
) -> IQDayResult:
    """compute_and_store_day for the uploads of one UTC day, holding the day's IQ lock
    (`log`: as advisory_locks')."""
    start, end = upload_day_bounds(day)
    with advisory_locks(conn, [iq_day_lock(day)], **({"log": log} if log is not None else {})):
        return compute_and_store_day(conn, s3, default_bucket, start, end, concurrency, max_bytes)


def day_summary(conn: psycopg.Connection, start: datetime, end: datetime) -> dict[str, dict[str, int]]:
    """Per status ('pending' = not attempted yet) of the day's recordings: counts and flag counts."""
    cur = conn.execute(read_sql("iq/day_summary.sql"), {"start": start, "end": end, "algorithm_version": current_version()})
    names = column_names(cur)
    return {row[0]: dict(zip(names[1:], row[1:])) for row in cur.fetchall()}


def day_reasons(conn: psycopg.Connection, start: datetime, end: datetime) -> list[tuple[str, str, int, str]]:
    """(status, reason code, recordings, an example reason) of the day's recordings not computed."""
    return conn.execute(read_sql("iq/day_reasons.sql"), {"start": start, "end": end}).fetchall()


def day_computed(conn: psycopg.Connection, start: datetime, end: datetime) -> list[tuple]:
    """(websdr_id, snr_db, frequency_offset_hz, no_signal) of the day's computed recordings."""
    return conn.execute(read_sql("iq/day_computed.sql"), {"start": start, "end": end}).fetchall()


def iter_status(summary: dict[str, dict[str, int]]) -> Iterator[tuple[str, int]]:
    for status in (*STATUSES, "pending"):
        yield status, summary.get(status, {}).get("recordings", 0)
