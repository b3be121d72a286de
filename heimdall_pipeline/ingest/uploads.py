"""A window of uploads, end to end: list → record in the ledger → GET → parse/validate → load.

"The day" of an object is the UTC day of its LastModified (its upload), the one thing a listing
tells without reading the object. Every object has exactly one upload time, so every object
belongs to exactly one day; the measurement days an upload touched are reported so their
aggregates can be refreshed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as time_of_day
from typing import Any

import psycopg

from heimdall_pipeline.core.locks import advisory_locks
from heimdall_pipeline.core.object_store import (
    CHANGED,
    DEFAULT_CONCURRENCY,
    DEFAULT_GET_RETRY,
    MISSING,
    GetRetryPolicy,
    ObjectInfo,
    describe_error,
    fetch_objects,
    head_object,
    is_storable_key,
    iter_metadata_objects,
    ledger_key,
    unstorable_key_reason,
)
from heimdall_pipeline.ingest.loader import (
    Conflict,
    ListingResult,
    LoadResult,
    Rejection,
    load_object_batch,
    pending_objects,
    record_get_failures,
    record_listed,
    record_missing,
)
from heimdall_pipeline.ingest.measurement import (
    MAX_OBJECT_BYTES,
    Measurement,
    RejectedObject,
    internal_error_reason,
    parse_metadata_object,
)

logger = logging.getLogger(__name__)

MAX_REPORTED_REJECTIONS = 50
# Objects per load transaction. Small enough that a batch's COPY + INSERT (~0.1 s) runs while the
# GETs already in flight complete, so the load overlaps the fetch instead of trailing it, and
# memory is bounded by the batch, not the day; large enough that per-transaction cost is noise.
DEFAULT_OBJECT_BATCH_SIZE = 2_000
# Runs whose GET of an object failed (after each run's own retries) before the object is given
# up as 'failed'; the sensor requests a run for a day with pending objects every
# PENDING_RETRY_AFTER (heimdall_pipeline.ingest.discovery), so that is about an hour of trying.
DEFAULT_MAX_LOAD_ATTEMPTS = 5
# An object that changed between its listing and its GET (412) is re-listed and fetched again at
# most this many times in one run; one that keeps changing stays pending for the next run.
MAX_REFETCHES = 3


@dataclass
class IngestResult:
    objects: int = 0
    bytes: int = 0
    inserted: int = 0
    duplicate: int = 0  # objects whose key held a row already (another's): present + conflicts
    present: int = 0  # of those, the stored row holds the same values: "already present"
    conflicts: int = 0  # of those, the stored row holds other values: kept, the object is 'conflict'
    updated: int = 0  # new versions of objects that replaced their earlier version's row
    rejected: int = 0
    failed: int = 0  # GET failed after its retries: left 'pending' (or given up as 'failed')
    gave_up: int = 0  # of those, now 'failed': they failed in DEFAULT_MAX_LOAD_ATTEMPTS runs
    missing: int = 0  # GET answered NoSuchKey: deleted after the listing, now 'missing'
    changed: int = 0  # changed between listing and GET: re-listed (and fetched again when still in the window)
    retries: int = 0  # GET retries of transient errors, botocore's included
    rejections: list[Rejection] = field(default_factory=list)  # the first few, for reports
    conflict_examples: list[Conflict] = field(default_factory=list)  # the first few, for reports
    failures: list[tuple[str, str]] = field(default_factory=list)
    first_measurement: datetime | None = None
    last_measurement: datetime | None = None
    measurement_days: set[date] = field(default_factory=set)
    seconds: float = 0.0

    @property
    def rows_per_second(self) -> float:
        return self.inserted / self.seconds if self.seconds else 0.0

    def _count_load(self, result: LoadResult) -> None:
        self.inserted += result.inserted
        self.duplicate += result.duplicate
        self.present += result.present
        self.conflicts += result.conflicts
        self.updated += result.updated
        room = MAX_REPORTED_REJECTIONS - len(self.conflict_examples)
        self.conflict_examples.extend(result.conflict_examples[:room])

    def _count_measurement(self, measurement: Measurement) -> None:
        ts = measurement.timestamp_utc
        if self.first_measurement is None or ts < self.first_measurement:
            self.first_measurement = ts
        if self.last_measurement is None or ts > self.last_measurement:
            self.last_measurement = ts
        self.measurement_days.add(ts.date())


def list_uploads(
    conn: psycopg.Connection, s3, bucket: str, start: datetime, end: datetime
) -> tuple[list[ObjectInfo], ListingResult]:
    """List the metadata objects uploaded in [start, end) and record them in the ledger."""
    infos = list(iter_metadata_objects(s3, bucket, start, end))
    return infos, record_listed(conn, infos)


def upload_days(start: datetime, end: datetime) -> list[date]:
    """The UTC upload days of a window [start, end) of whole days (one partition, or a backfill range)."""
    return [start.date() + timedelta(days=offset) for offset in range((end - start).days)]


def upload_day_lock(day: date) -> str:
    """The advisory lock every loader of an upload day holds (runs, the notification consumer), so
    two never load the same pending objects at once."""
    return f"heimdall:upload-day:{day}"


def upload_day_bounds(day: date) -> tuple[datetime, datetime]:
    """[start, end) in UTC of one upload day."""
    start = datetime.combine(day, time_of_day(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def load_pending_by_day(
    conn: psycopg.Connection,
    s3,
    bucket: str,
    start: datetime,
    end: datetime,
    *,
    log: Any = logger,
    **options,
) -> dict[date, IngestResult]:
    """load_pending for each upload day of [start, end) in turn: `{day: that day's IngestResult}`,
    so a range of days reports each day's objects, rows and rejections as a run of that day would.
    Holds every day's upload_day_lock meanwhile: two runs of a day (the sensor's and the
    schedule's) must not both load the same pending objects. `log`: as advisory_locks'."""
    days = upload_days(start, end)
    with advisory_locks(conn, [upload_day_lock(day) for day in days], log=log):
        return {day: load_pending(conn, s3, bucket, *upload_day_bounds(day), **options) for day in days}


def load_objects(
    conn: psycopg.Connection,
    s3,
    bucket: str,
    infos: Iterable[ObjectInfo],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    batch_size: int = DEFAULT_OBJECT_BATCH_SIZE,
    max_object_bytes: int = MAX_OBJECT_BYTES,
    retry: GetRetryPolicy = DEFAULT_GET_RETRY,
    max_attempts: int = DEFAULT_MAX_LOAD_ATTEMPTS,
    window: tuple[datetime, datetime] | None = None,
) -> IngestResult:
    """GET, parse and load objects; each ends loaded, updated, present, conflict, rejected, missing, or pending/failed.

    Objects the listing says are over `max_object_bytes` are rejected as `too_large` without a GET.
    Transient GET errors are retried (`retry`). NoSuchKey: 'missing'. An object that changed since
    its listing (412) is re-listed and fetched again if its new upload time is still in `window`
    (None: any), else left pending for its new upload day. A GET that still fails counts an
    attempt; at `max_attempts` the object is 'failed' with the last error as reason.
    """
    started = time.perf_counter()
    result = IngestResult()
    parsed: list[tuple[ObjectInfo, Measurement]] = []
    rejected: list[Rejection] = []
    failed: list[tuple[ObjectInfo, str]] = []
    gone: list[tuple[ObjectInfo, str]] = []

    def flush() -> None:
        result._count_load(load_object_batch(conn, parsed, rejected))
        parsed.clear()
        rejected.clear()

    def in_window(info: ObjectInfo) -> bool:
        return window is None or window[0] <= info.last_modified < window[1]

    def reject(rejection: Rejection) -> None:
        rejected.append(rejection)
        result.rejected += 1
        if len(result.rejections) < MAX_REPORTED_REJECTIONS:
            result.rejections.append(rejection)

    def fetchable(candidates: Iterable[ObjectInfo]) -> Iterator[ObjectInfo]:
        for info in candidates:
            if not is_storable_key(info.key):
                # Listing records these as rejected already; given directly, they are rejected here.
                result.objects += 1
                reject(Rejection(info, unstorable_key_reason(info.key)))
            elif info.size_bytes > max_object_bytes:
                result.objects += 1
                reject(
                    Rejection(
                        info,
                        RejectedObject(
                            "too_large", f"the listing says {info.size_bytes:,} bytes, over the {max_object_bytes:,}-byte limit"
                        ).reason,
                    )
                )
            else:
                yield info

    to_fetch: Iterable[ObjectInfo] = fetchable(infos)
    for round_number in range(MAX_REFETCHES + 1):
        changed: list[ObjectInfo] = []
        for fetched in fetch_objects(s3, bucket, to_fetch, concurrency, retry):
            info = fetched.info
            result.retries += fetched.retries
            if round_number == 0:
                result.objects += 1
            if fetched.outcome == MISSING:
                gone.append((info, "missing: GET answered NoSuchKey, the object was deleted after it was listed"))
                continue
            if fetched.outcome == CHANGED:
                changed.append(info)
                continue
            if fetched.body is None:
                failed.append((info, fetched.error or "unknown error"))
                if len(result.failures) < MAX_REPORTED_REJECTIONS:
                    result.failures.append((ledger_key(info.key), fetched.error or "unknown error"))
                continue
            result.bytes += len(fetched.body)
            try:
                measurement = parse_metadata_object(bucket, info.key, fetched.body, max_object_bytes)
            except RejectedObject as error:
                reject(Rejection(info, error.reason))
            except Exception as error:  # a parser bug must reject this object, not stall the day
                logger.exception("unexpected error parsing %r (rejected as internal_error)", info.key)
                reject(Rejection(info, internal_error_reason(error)))
            else:
                parsed.append((info, measurement))
                result._count_measurement(measurement)
            if len(parsed) + len(rejected) >= batch_size:
                flush()
        if not changed:
            break
        result.changed += len(changed)
        to_fetch = []
        if round_number == MAX_REFETCHES:
            break  # still changing: the next run's listing records its latest version
        for info in changed:
            try:
                current = head_object(s3, bucket, info.key)
            except Exception as error:  # counts as a failed attempt; the run goes on
                failed.append((info, f"re-listing after 412: {describe_error(error)}"))
                if len(result.failures) < MAX_REPORTED_REJECTIONS:
                    result.failures.append((ledger_key(info.key), failed[-1][1]))
                continue
            if current is None:
                gone.append((info, "missing: the object changed after it was listed, then was deleted"))
                continue
            record_listed(conn, [current])  # its new version is pending now
            if in_window(current):
                to_fetch.append(current)
    if parsed or rejected:
        flush()
    result.missing = record_missing(conn, gone)
    result.failed = len(failed)
    _, result.gave_up = record_get_failures(conn, failed, max_attempts)
    result.seconds = time.perf_counter() - started
    return result


def load_pending(
    conn: psycopg.Connection,
    s3,
    bucket: str,
    start: datetime,
    end: datetime,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    batch_size: int = DEFAULT_OBJECT_BATCH_SIZE,
    max_object_bytes: int = MAX_OBJECT_BYTES,
    retry: GetRetryPolicy = DEFAULT_GET_RETRY,
    max_attempts: int = DEFAULT_MAX_LOAD_ATTEMPTS,
) -> IngestResult:
    """Load the objects uploaded in [start, end) that the ledger still has as pending."""
    return load_objects(
        conn,
        s3,
        bucket,
        pending_objects(conn, start, end),
        concurrency=concurrency,
        batch_size=batch_size,
        max_object_bytes=max_object_bytes,
        retry=retry,
        max_attempts=max_attempts,
        window=(start, end),
    )


def ingest_window(
    conn: psycopg.Connection,
    s3,
    bucket: str,
    start: datetime,
    end: datetime,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    batch_size: int = DEFAULT_OBJECT_BATCH_SIZE,
    retry: GetRetryPolicy = DEFAULT_GET_RETRY,
) -> tuple[ListingResult, IngestResult]:
    """List, record and load everything uploaded in [start, end); idempotent."""
    _, listing = list_uploads(conn, s3, bucket, start, end)
    return listing, load_pending(conn, s3, bucket, start, end, concurrency=concurrency, batch_size=batch_size, retry=retry)
