"""Bulk load into the `measurements` hypertable and the `ingest_ledger`.

Each batch is one transaction: binary COPY into a session-local staging table, then
`INSERT … ON CONFLICT DO NOTHING` into the hypertable. Loading the same rows again inserts
nothing, and every source object ends in the ledger as loaded, updated, duplicate or rejected: at
most one row per object, the latest valid version wins (sql/load/insert_staged_objects.sql).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg

from heimdall_pipeline.db import read_sql
from heimdall_pipeline.measurement import COLUMNS, Measurement, cap_reason
from heimdall_pipeline.object_store import ObjectInfo, is_storable_key, ledger_key, unstorable_key_reason

DEFAULT_BATCH_SIZE = 20_000
_MEASUREMENT_TYPES = ["text", "int4", "float8", "float8", "int4", "timestamptz", "float8", "float8", "float8", "text"]
_OBJECT_TYPES = ["text", "text", "int8", "timestamptz"]
_OBJECT_COLUMNS = ("object_key", "etag", "size_bytes", "last_modified")


@dataclass(frozen=True)
class LoadResult:
    inserted: int
    duplicate: int
    updated: int = 0  # a new version of an object replaced the row its earlier version loaded

    def __add__(self, other: "LoadResult") -> "LoadResult":
        return LoadResult(
            self.inserted + other.inserted, self.duplicate + other.duplicate, self.updated + other.updated
        )


@dataclass(frozen=True)
class Rejection:
    info: ObjectInfo
    reason: str


@dataclass(frozen=True)
class ListingResult:
    new: int
    changed: int  # content changed since last seen: back to pending
    unchanged: int


def _ensure_staging(cur: psycopg.Cursor) -> None:
    cur.execute(read_sql("load/create_staging.sql"))


def load_rows(conn: psycopg.Connection, rows: Iterable[Sequence], batch_size: int = DEFAULT_BATCH_SIZE) -> LoadResult:
    """Load rows in `measurement.COLUMNS` order; one transaction per batch."""
    total = LoadResult(0, 0)
    batch: list[Sequence] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= batch_size:
            total += _load_row_batch(conn, batch)
            batch = []
    if batch:
        total += _load_row_batch(conn, batch)
    return total


def load_measurements(
    conn: psycopg.Connection, measurements: Iterable[Measurement], batch_size: int = DEFAULT_BATCH_SIZE
) -> LoadResult:
    return load_rows(conn, (m.as_row() for m in measurements), batch_size)


def _load_row_batch(conn: psycopg.Connection, rows: list[Sequence]) -> LoadResult:
    with conn.transaction(), conn.cursor() as cur:
        _ensure_staging(cur)
        _copy(cur, "measurements_staging", COLUMNS, _MEASUREMENT_TYPES, rows)
        cur.execute(read_sql("load/insert_staged.sql"))
        inserted = cur.rowcount
    return LoadResult(inserted, len(rows) - inserted)


def load_object_batch(
    conn: psycopg.Connection,
    parsed: Sequence[tuple[ObjectInfo, Measurement]],
    rejected: Sequence[Rejection] = (),
) -> LoadResult:
    """Load one batch of parsed objects and record every object's outcome in the ledger.

    All in one transaction: the ledger never says 'loaded' for a row that is not there.
    """
    # The same object given twice is one object: keep its first occurrence only.
    unique = {info.key: (info, measurement) for info, measurement in reversed(parsed)}
    rows = [
        (*measurement.as_row(), ledger_key(info.key), info.etag, info.size_bytes, info.last_modified)
        for info, measurement in unique.values()
    ]
    with conn.transaction(), conn.cursor() as cur:
        _ensure_staging(cur)
        inserted = duplicate = updated = 0
        if rows:
            _copy(cur, "measurements_staging", COLUMNS + _OBJECT_COLUMNS, _MEASUREMENT_TYPES + _OBJECT_TYPES, rows)
            cur.execute(read_sql("load/earlier_rows_of_staged.sql"))
            earlier = cur.fetchall()  # rows of the objects' earlier versions: usually none
            cur.execute(
                read_sql("load/insert_staged_objects.sql"),
                {
                    "earlier_keys": [row[0] for row in earlier],
                    "earlier_task_ids": [row[1] for row in earlier],
                    "earlier_websdr_ids": [row[2] for row in earlier],
                    "earlier_times": [row[3] for row in earlier],
                },
            )
            inserted, duplicate, updated = cur.fetchone()
        if rejected:
            cur.executemany(read_sql("load/record_rejection.sql"), [_rejection_row(r) for r in rejected])
    return LoadResult(inserted, duplicate, updated)


def _rejection_row(rejection: Rejection) -> dict:
    info = rejection.info
    return {
        "object_key": ledger_key(info.key),
        "etag": info.etag,
        "size_bytes": info.size_bytes,
        "last_modified": info.last_modified,
        "reason": cap_reason(rejection.reason),  # whoever built it, a reason stays small
    }


def record_listed(conn: psycopg.Connection, infos: Iterable[ObjectInfo]) -> ListingResult:
    """Record listed objects in the ledger: new ones (and changed ones) become 'pending'.

    A key the ledger cannot store as it is (a NUL byte, not valid UTF-8) is recorded under its
    escaped form as rejected `bad_key` right away, so it never stops the COPY of the others.
    """
    infos = list(infos)
    rows = [(i.key, i.etag, i.size_bytes, i.last_modified) for i in infos if is_storable_key(i.key)]
    bad_keys = [_rejection_row(Rejection(i, unstorable_key_reason(i.key))) for i in infos if not is_storable_key(i.key)]
    with conn.transaction(), conn.cursor() as cur:
        _ensure_staging(cur)
        _copy(cur, "ledger_staging", _OBJECT_COLUMNS, _OBJECT_TYPES, rows)
        cur.execute(read_sql("load/record_listed.sql"))
        changes = cur.fetchall()
        for row in bad_keys:
            cur.execute(read_sql("load/record_bad_key.sql"), row)
            changes += [(is_new, "pending") for (is_new,) in cur.fetchall()]
    new = sum(1 for is_new, _ in changes if is_new)
    changed = sum(1 for is_new, status in changes if not is_new and status == "pending")
    return ListingResult(new=new, changed=changed, unchanged=len(infos) - new - changed)


def record_missing(conn: psycopg.Connection, gone: Sequence[tuple[ObjectInfo, str]]) -> int:
    """Mark listed objects whose GET answered NoSuchKey as 'missing' with the reason; returns how many."""
    if not gone:
        return 0
    params = {
        "keys": [ledger_key(info.key) for info, _ in gone],
        "etags": [info.etag for info, _ in gone],
        "reasons": [reason for _, reason in gone],
    }
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(read_sql("load/record_missing.sql"), params)
        return cur.rowcount


def record_get_failures(
    conn: psycopg.Connection, failures: Sequence[tuple[ObjectInfo, str]], max_attempts: int
) -> tuple[int, int]:
    """Count one more failed attempt for each object; those at `max_attempts` become 'failed'.

    Returns (still pending, now failed).
    """
    if not failures:
        return 0, 0
    record_listed(conn, [info for info, _ in failures])  # an object given directly is in the ledger too
    params = {
        "keys": [ledger_key(info.key) for info, _ in failures],
        "etags": [info.etag for info, _ in failures],
        "errors": [error for _, error in failures],
        "max_attempts": max_attempts,
    }
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(read_sql("load/record_get_failures.sql"), params)
        statuses = [status for (status,) in cur.fetchall()]
    return statuses.count("pending"), statuses.count("failed")


def pending_objects(conn: psycopg.Connection, start: datetime, end: datetime) -> list[ObjectInfo]:
    """Objects uploaded in [start, end) that the ledger still has as 'pending'."""
    with conn.cursor() as cur:
        cur.execute(read_sql("load/pending_objects.sql"), {"start": start, "end": end})
        return [ObjectInfo(*row) for row in cur.fetchall()]


def ledger_summary(conn: psycopg.Connection, start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
    """`{status: (objects, bytes)}` for objects uploaded in [start, end)."""
    with conn.cursor() as cur:
        cur.execute(read_sql("load/ledger_summary.sql"), {"start": start, "end": end})
        return {status: (objects, int(size)) for status, objects, size in cur.fetchall()}


def _copy(cur: psycopg.Cursor, table: str, columns: Sequence[str], types: list[str], rows: Iterable[Sequence]) -> None:
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    with cur.copy(statement) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)
