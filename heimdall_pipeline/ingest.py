"""A window of uploads, end to end: list → record in the ledger → GET → parse/validate → load.

"The day" of an object is the UTC day of its LastModified (its upload), the one thing a listing
tells without reading the object. Every object has exactly one upload time, so every object
belongs to exactly one day; the measurement days an upload touched are reported so their
aggregates can be refreshed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime

import psycopg

from heimdall_pipeline.loader import (
    ListingResult,
    LoadResult,
    Rejection,
    load_object_batch,
    pending_objects,
    record_listed,
)
from heimdall_pipeline.measurement import (
    MAX_OBJECT_BYTES,
    Measurement,
    RejectedObject,
    internal_error_reason,
    parse_metadata_object,
)
from heimdall_pipeline.object_store import DEFAULT_CONCURRENCY, ObjectInfo, fetch_objects, iter_metadata_objects

logger = logging.getLogger(__name__)

MAX_REPORTED_REJECTIONS = 50
# Objects per load transaction. Small enough that a batch's COPY + INSERT (~0.1 s) runs while the
# GETs already in flight complete, so the load overlaps the fetch instead of trailing it, and
# memory is bounded by the batch, not the day; large enough that per-transaction cost is noise.
DEFAULT_OBJECT_BATCH_SIZE = 2_000


@dataclass
class IngestResult:
    objects: int = 0
    bytes: int = 0
    inserted: int = 0
    duplicate: int = 0
    rejected: int = 0
    failed: int = 0  # GET failed: left 'pending' for the next run
    rejections: list[Rejection] = field(default_factory=list)  # the first few, for reports
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

    def _count_measurement(self, measurement: Measurement) -> None:
        ts = measurement.timestamp_utc
        if self.first_measurement is None or ts < self.first_measurement:
            self.first_measurement = ts
        if self.last_measurement is None or ts > self.last_measurement:
            self.last_measurement = ts
        self.measurement_days.add(ts.date())


def list_uploads(conn: psycopg.Connection, s3, bucket: str, start: datetime, end: datetime) -> tuple[list[ObjectInfo], ListingResult]:
    """List the metadata objects uploaded in [start, end) and record them in the ledger."""
    infos = list(iter_metadata_objects(s3, bucket, start, end))
    return infos, record_listed(conn, infos)


def load_objects(
    conn: psycopg.Connection,
    s3,
    bucket: str,
    infos: Iterable[ObjectInfo],
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    batch_size: int = DEFAULT_OBJECT_BATCH_SIZE,
    max_object_bytes: int = MAX_OBJECT_BYTES,
) -> IngestResult:
    """GET, parse and load objects; every one ends loaded, duplicate, rejected, or (failed GET) pending.

    Objects the listing says are over `max_object_bytes` are rejected as `too_large` without a GET.
    """
    started = time.perf_counter()
    result = IngestResult()
    parsed: list[tuple[ObjectInfo, Measurement]] = []
    rejected: list[Rejection] = []
    failed: list[ObjectInfo] = []

    def flush() -> None:
        result._count_load(load_object_batch(conn, parsed, rejected))
        parsed.clear()
        rejected.clear()

    def reject(rejection: Rejection) -> None:
        rejected.append(rejection)
        result.rejected += 1
        if len(result.rejections) < MAX_REPORTED_REJECTIONS:
            result.rejections.append(rejection)

    to_fetch: list[ObjectInfo] = []
    for info in infos:
        if info.size_bytes > max_object_bytes:
            result.objects += 1
            reject(Rejection(info, RejectedObject(
                "too_large", f"the listing says {info.size_bytes:,} bytes, over the {max_object_bytes:,}-byte limit"
            ).reason))
        else:
            to_fetch.append(info)

    for fetched in fetch_objects(s3, bucket, to_fetch, concurrency):
        info = fetched.info
        result.objects += 1
        if fetched.body is None:
            result.failed += 1
            failed.append(info)
            if len(result.failures) < MAX_REPORTED_REJECTIONS:
                result.failures.append((info.key, fetched.error or "unknown error"))
            continue
        result.bytes += len(fetched.body)
        try:
            measurement = parse_metadata_object(bucket, info.key, fetched.body, max_object_bytes)
        except RejectedObject as error:
            reject(Rejection(info, error.reason))
        except Exception as error:  # noqa: BLE001 - a parser bug must reject this object, not stall the day
            logger.exception("unexpected error parsing %r (rejected as internal_error)", info.key)
            reject(Rejection(info, internal_error_reason(error)))
        else:
            parsed.append((info, measurement))
            result._count_measurement(measurement)
        if len(parsed) + len(rejected) >= batch_size:
            flush()
    if parsed or rejected:
        flush()
    if failed:
        record_listed(conn, failed)  # make sure each stays visible as 'pending'
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
) -> IngestResult:
    """Load the objects uploaded in [start, end) that the ledger still has as pending."""
    return load_objects(
        conn, s3, bucket, pending_objects(conn, start, end), concurrency=concurrency, batch_size=batch_size,
        max_object_bytes=max_object_bytes,
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
) -> tuple[ListingResult, IngestResult]:
    """List, record and load everything uploaded in [start, end); idempotent."""
    _, listing = list_uploads(conn, s3, bucket, start, end)
    return listing, load_pending(conn, s3, bucket, start, end, concurrency=concurrency, batch_size=batch_size)
