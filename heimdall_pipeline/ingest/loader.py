"""Bulk load into the `measurements` hypertable and the `ingest_ledger`.

Each batch is one transaction: binary COPY into a session-local staging table, then
`INSERT … ON CONFLICT DO NOTHING` into the hypertable. Loading the same rows again inserts
nothing, and every source object ends in the ledger as loaded, updated, present, conflict or
rejected: at most one row per object, the latest valid version wins
(sql/ingest/load/insert_staged_objects.sql). A row whose key was already there (Heimdall's worker stored
it, or an earlier load) is compared with the stored one: the same values are "already present",
other values a conflict, reported with the columns that differ. The stored row is never changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from heimdall_pipeline.core.db import one_row, read_sql
from heimdall_pipeline.core.object_store import ObjectInfo, is_storable_key, ledger_key, unstorable_key_reason
from heimdall_pipeline.ingest.measurement import COLUMNS, Measurement, cap_reason

DEFAULT_BATCH_SIZE = 20_000
_MEASUREMENT_TYPES = ["text", "int4", "float8", "float8", "int4", "timestamptz", "float8", "float8", "float8", "text"]
_OBJECT_TYPES = ["text", "text", "int8", "timestamptz"]
_OBJECT_COLUMNS = ("object_key", "etag", "size_bytes", "last_modified")


# The columns a stored row and a row with the same key are compared on (the key's own columns are
# equal by definition); floats within float_close (migration 0007). Order of staged_conflicts.sql.
COMPARED_COLUMNS = (
    "frequency_mhz",
    "sample_rate_khz",
    "samples_count",
    "snr_db",
    "frequency_offset_hz",
    "power_dbm",
    "s3_path",
)
_FLOAT_COLUMNS = {"frequency_mhz", "sample_rate_khz", "snr_db", "frequency_offset_hz", "power_dbm"}
MAX_REPORTED_CONFLICTS = 50
_SHOWN_VALUE_CHARS = 60


@dataclass(frozen=True)
class Conflict:
    """A row not stored because its key held a row with other values; `reason` names them."""

    object_key: str | None  # the metadata object; None for rows given as measurements (worker path)
    task_id: str
    websdr_id: int
    timestamp_utc: datetime
    reason: str


@dataclass(frozen=True)
class LoadResult:
    inserted: int
    duplicate: int  # not inserted because the key was there: present + conflicts
    updated: int = 0  # a new version of an object replaced the row its earlier version loaded
    present: int = 0  # of the duplicates, the stored row holds the same values (float_close)
    conflicts: int = 0  # of the duplicates, the stored row holds other values; it is kept
    conflict_examples: tuple[Conflict, ...] = ()  # the first MAX_REPORTED_CONFLICTS

    def __add__(self, other: LoadResult) -> LoadResult:
        return LoadResult(
            self.inserted + other.inserted,
            self.duplicate + other.duplicate,
            self.updated + other.updated,
            self.present + other.present,
            self.conflicts + other.conflicts,
            (self.conflict_examples + other.conflict_examples)[:MAX_REPORTED_CONFLICTS],
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
    recorded: tuple[ObjectInfo, ...] = field(default=(), compare=False)  # the new and changed ones (ledger keys)


# Who recorded an entry's current version (ingest_ledger.listed_by).
LISTED_BY_LISTING, LISTED_BY_EVENTS = "listing", "events"


def _ensure_staging(cur: psycopg.Cursor) -> None:
    cur.execute(read_sql("ingest/load/create_staging.sql"))


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
        cur.execute(read_sql("ingest/load/insert_staged.sql"))
        inserted = cur.rowcount
        conflicts = _staged_conflicts(cur) if inserted < len(rows) else []
    duplicate = len(rows) - inserted
    return LoadResult(
        inserted,
        duplicate,
        present=duplicate - len(conflicts),
        conflicts=len(conflicts),
        conflict_examples=tuple(conflicts[:MAX_REPORTED_CONFLICTS]),
    )


def _staged_conflicts(cur: psycopg.Cursor) -> list[Conflict]:
    """The staged rows whose key holds a stored row with other values (sql/ingest/load/staged_conflicts.sql)."""
    cur.execute(read_sql("ingest/load/staged_conflicts.sql"))
    return [
        Conflict(object_key, task_id, websdr_id, timestamp_utc, conflict_reason(values))
        for object_key, task_id, websdr_id, timestamp_utc, *values in cur.fetchall()
    ]


def conflict_reason(values: Sequence) -> str:
    """`conflict: …` naming each column that differs with the stored and the new value, capped like
    every reason. `values` = stored, new for each of COMPARED_COLUMNS in turn."""
    differences = []
    for index, column in enumerate(COMPARED_COLUMNS):
        stored, new = values[2 * index], values[2 * index + 1]
        if not _same(column, stored, new):
            differences.append(f"{column} stored {_shown_value(stored)}, new {_shown_value(new)}")
    return cap_reason(
        "conflict: a row with this key (task, receiver, time) is stored with other values, kept as it is: "
        + ("; ".join(differences) or "a float at the edge of the tolerance")
    )


def _same(column: str, stored, new) -> bool:
    """What staged_conflicts.sql decides, for naming the columns: float_close for floats."""
    if stored is None or new is None:
        return stored is None and new is None
    if column in _FLOAT_COLUMNS:
        return abs(stored - new) <= 1e-9 * max(1.0, abs(stored), abs(new))
    return stored == new


def _shown_value(value) -> str:
    text = "null" if value is None else repr(value)
    return text if len(text) <= _SHOWN_VALUE_CHARS else text[: _SHOWN_VALUE_CHARS - 1] + "…"


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
        conflicts: list[Conflict] = []
        if rows:
            _copy(cur, "measurements_staging", COLUMNS + _OBJECT_COLUMNS, _MEASUREMENT_TYPES + _OBJECT_TYPES, rows)
            cur.execute(read_sql("ingest/load/earlier_rows_of_staged.sql"))
            earlier = cur.fetchall()  # rows of the objects' earlier versions: usually none
            cur.execute(
                read_sql("ingest/load/insert_staged_objects.sql"),
                {
                    "earlier_keys": [row[0] for row in earlier],
                    "earlier_task_ids": [row[1] for row in earlier],
                    "earlier_websdr_ids": [row[2] for row in earlier],
                    "earlier_times": [row[3] for row in earlier],
                },
            )
            inserted, duplicate, updated = one_row(cur)
            if duplicate:
                # Recorded 'present' above; those whose stored row holds other values become conflicts.
                conflicts = _staged_conflicts(cur)
                if conflicts:
                    cur.execute(
                        read_sql("ingest/load/record_conflicts.sql"),
                        {"keys": [c.object_key for c in conflicts], "reasons": [c.reason for c in conflicts]},
                    )
        if rejected:
            cur.executemany(read_sql("ingest/load/record_rejection.sql"), [_rejection_row(r) for r in rejected])
    return LoadResult(
        inserted,
        duplicate,
        updated,
        present=duplicate - len(conflicts),
        conflicts=len(conflicts),
        conflict_examples=tuple(conflicts[:MAX_REPORTED_CONFLICTS]),
    )


def _rejection_row(rejection: Rejection) -> dict:
    info = rejection.info
    return {
        "object_key": ledger_key(info.key),
        "etag": info.etag,
        "size_bytes": info.size_bytes,
        "last_modified": info.last_modified,
        "reason": cap_reason(rejection.reason),  # whoever built it, a reason stays small
    }


def record_listed(conn: psycopg.Connection, infos: Iterable[ObjectInfo], listed_by: str = LISTED_BY_LISTING) -> ListingResult:
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
        cur.execute(read_sql("ingest/load/record_listed.sql"), {"listed_by": listed_by})
        changes = cur.fetchall()
        recorded = tuple(ObjectInfo(*row[2:]) for row in changes if row[0] or row[1] == "pending")
        for row in bad_keys:
            cur.execute(read_sql("ingest/load/record_bad_key.sql"), row)
            changes += [(is_new, "pending") for (is_new,) in cur.fetchall()]
    new = sum(1 for is_new, *_ in changes if is_new)
    changed = sum(1 for is_new, status, *_ in changes if not is_new and status == "pending")
    return ListingResult(new=new, changed=changed, unchanged=len(infos) - new - changed, recorded=recorded)


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
        cur.execute(read_sql("ingest/load/record_missing.sql"), params)
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
        cur.execute(read_sql("ingest/load/record_get_failures.sql"), params)
        statuses = [status for (status,) in cur.fetchall()]
    return statuses.count("pending"), statuses.count("failed")


def pending_objects(conn: psycopg.Connection, start: datetime, end: datetime) -> list[ObjectInfo]:
    """Objects uploaded in [start, end) that the ledger still has as 'pending'."""
    with conn.cursor() as cur:
        cur.execute(read_sql("ingest/load/pending_objects.sql"), {"start": start, "end": end})
        return [ObjectInfo(*row) for row in cur.fetchall()]


def ledger_summary(conn: psycopg.Connection, start: datetime, end: datetime) -> dict[str, tuple[int, int]]:
    """`{status: (objects, bytes)}` for objects uploaded in [start, end)."""
    with conn.cursor() as cur:
        cur.execute(read_sql("ingest/load/ledger_summary.sql"), {"start": start, "end": end})
        return {status: (objects, int(size)) for status, objects, size in cur.fetchall()}


def _copy(cur: psycopg.Cursor, table: str, columns: Sequence[str], types: list[str], rows: Iterable[Sequence]) -> None:
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    with cur.copy(statement) as copy:
        copy.set_types(types)
        for row in rows:
            copy.write_row(row)
