"""A window of uploads, end to end: list → record in the ledger → GET → parse/validate → load.

"The day" of an object is the UTC day of its LastModified (its upload), the one thing a listing
tells without reading the object. Every object has exactly one upload time, so every object
belongs to exactly one day; the measurement days an upload touched are reported so their
aggregates can be refreshed.
"""

from __future__ import annotations

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
from heimdall_pipeline.measurement import Measurement, RejectedObject, parse_metadata_object
from heimdall_pipeline.object_store import DEFAULT_CONCURRENCY, ObjectInfo, fetch_objects, iter_metadata_objects

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
) -> IngestResult:
    """GET, parse and load objects; every one ends loaded, duplicate, rejected, or (failed GET) pending."""
    started = time.perf_counter()
    result = IngestResult()
    parsed: list[tuple[ObjectInfo, Measurement]] = []
    rejected: list[Rejection] = []
    failed: list[ObjectInfo] = []

    def flush() -> None:
        result._count_load(load_object_batch(conn, parsed, rejected))
        parsed.clear()
        rejected.clear()

    for fetched in fetch_objects(s3, bucket, infos, concurrency):
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
            measurement = parse_metadata_object(bucket, info.key, fetched.body)
        except RejectedObject as error:
            rejection = Rejection(info, error.reason)
            rejected.append(rejection)
            result.rejected += 1
            if len(result.rejections) < MAX_REPORTED_REJECTIONS:
                result.rejections.append(rejection)
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
) -> IngestResult:
    """Load the objects uploaded in [start, end) that the ledger still has as pending."""
    return load_objects(
        conn, s3, bucket, pending_objects(conn, start, end), concurrency=concurrency, batch_size=batch_size
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
