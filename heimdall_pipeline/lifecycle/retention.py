"""Retention without loss: archive a UTC day of measurements to Parquet, verify, drop; restore.

For each day older than the retention window, in this order:
1. archive: the day's rows (merged with any earlier archive of the day) to
   `s3://<archive bucket>/archive/measurements/date=YYYY-MM-DD/measurements.parquet`, recorded
   in `measurement_archives` (row count, checksum). An archive object already there is trusted
   only if it matches that record (or the write this job recorded as started, after a crash
   between PUT and record); anything else (a planted file, a replaced one) is refused, before
   any merge, restore or drop;
2. verify: read the object back, compare row count and checksum with the record;
3. drop, in one transaction with inserts blocked: every row still in the day must be in the
   verified archive, `measurements_hourly` must equal a recomputation of the day (refreshed if
   not), then `drop_chunks` for the day's chunk(s) (through the owner's SECURITY DEFINER function
   `drop_archived_day_chunks`, so the pipeline role cannot drop anything else) and a DELETE for
   any partial chunk.
A crash anywhere leaves either the rows in the database or a verified archive; a re-run
re-verifies and finishes. Late rows for a day already dropped: its archive is restored first, so
the re-archived day and its hourly aggregates hold every row.

Apache edition: no compression. Community edition: a policy compresses chunks after 7 days
(migrations 0004, 0009; whether it does is measured by heimdall_pipeline.lifecycle.health);
retention stays with this job (no `add_retention_policy`) so no day is ever dropped without its
archive.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq

from heimdall_pipeline.analytics.aggregates import day_bounds, hourly_mismatches, refresh_hourly
from heimdall_pipeline.core.db import read_sql, scalar
from heimdall_pipeline.ingest.loader import LoadResult, load_rows
from heimdall_pipeline.ingest.measurement import COLUMNS

DEFAULT_RETENTION_DAYS = 30
ARCHIVE_SCHEMA = pa.schema(
    [
        ("task_id", pa.string()),
        ("websdr_id", pa.int32()),
        ("frequency_mhz", pa.float64()),
        ("sample_rate_khz", pa.float64()),
        ("samples_count", pa.int32()),
        ("timestamp_utc", pa.timestamp("us", tz="UTC")),
        ("snr_db", pa.float64()),
        ("frequency_offset_hz", pa.float64()),
        ("power_dbm", pa.float64()),
        ("s3_path", pa.string()),
    ]
)
Row = tuple


class ArchiveError(RuntimeError):
    """The archive is missing or does not hold what the database and the record say."""


@dataclass(frozen=True)
class ArchiveRecord:
    day: date
    object_key: str
    row_count: int
    checksum: str
    archived_at: datetime
    dropped_at: datetime | None


@dataclass(frozen=True)
class ArchiveResult:
    object_key: str
    row_count: int
    checksum: str
    written: bool  # False: the existing archive already held every row of the day


@dataclass(frozen=True)
class DropResult:
    rows_dropped: int
    chunks_dropped: int
    hourly_refreshed: bool


@dataclass(frozen=True)
class DayRetirement:
    day: date
    restored_first: int  # rows brought back from an earlier archive (late rows for a dropped day)
    archive: ArchiveResult
    drop: DropResult


def archive_key(day: date) -> str:
    return f"archive/measurements/date={day.isoformat()}/measurements.parquet"


def expired_days(conn: psycopg.Connection, as_of: datetime, retention_days: int = DEFAULT_RETENTION_DAYS) -> list[date]:
    """Days with rows that ended `retention_days` or more before the UTC day of `as_of` began."""
    cutoff = datetime.combine(as_of.astimezone(UTC).date(), time(0), tzinfo=UTC)
    cutoff -= timedelta(days=retention_days)
    with conn.cursor() as cur:
        cur.execute(read_sql("lifecycle/retention/expired_days.sql"), {"cutoff": cutoff})
        return [row[0] for row in cur.fetchall()]


def day_rows(conn: psycopg.Connection, day: date) -> list[Row]:
    start, end = day_bounds(day)
    with conn.cursor() as cur:
        cur.execute(read_sql("lifecycle/retention/day_rows.sql"), {"start": start, "end": end})
        return [_normalised(row) for row in cur.fetchall()]


def checksum(rows: Sequence[Row]) -> str:
    """sha256 over the rows in primary-key order, each value in a fixed text form."""
    digest = hashlib.sha256()
    for row in sorted(rows, key=_primary_key):
        digest.update(repr(tuple(v.isoformat() if isinstance(v, datetime) else v for v in row)).encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def archive_record(conn: psycopg.Connection, day: date) -> ArchiveRecord | None:
    with conn.cursor() as cur:
        cur.execute(read_sql("lifecycle/retention/archive_record.sql"), {"day": day})
        row = cur.fetchone()
    return ArchiveRecord(*row) if row else None


def read_archive(s3, bucket: str, day: date) -> list[Row] | None:
    """The rows in `day`'s archive object, or None when there is none. Reads only: see
    `trusted_archive` for rows that may be merged, restored or relied on."""
    try:
        body = s3.get_object(Bucket=bucket, Key=archive_key(day))["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    try:
        table = pq.read_table(io.BytesIO(body))
    except (pa.ArrowException, OSError) as error:
        raise ArchiveError(
            f"s3://{bucket}/{archive_key(day)} is not a readable Parquet file ({type(error).__name__}); "
            "nothing was merged, restored or dropped"
        ) from error
    if tuple(table.column_names) != COLUMNS:
        raise ArchiveError(f"{archive_key(day)} has columns {table.column_names}, expected {list(COLUMNS)}")
    return [_normalised(row) for row in zip(*(table.column(name).to_pylist() for name in COLUMNS))]


def trusted_archive(conn: psycopg.Connection, s3, bucket: str, day: date) -> list[Row] | None:
    """The rows of `day`'s archive object, or None when there is none, once the object is known to
    be the one retention wrote: row count and checksum equal `measurement_archives`' record, or the
    write recorded as started (a crash between the PUT and the record; the record is completed).

    Raises ArchiveError for any other object at the archive key: one no record knows (planted, or
    another deployment's) or one whose content changed since it was recorded.
    """
    rows = read_archive(s3, bucket, day)
    if rows is None:
        return None
    key = archive_key(day)
    found = (key, len(rows), checksum(rows))
    record = archive_record(conn, day)
    if record is not None and (record.object_key, record.row_count, record.checksum) == found:
        return rows
    if archive_write_intent(conn, day) == found:
        _record_archive(conn, day, *found)  # our own write, cut short before it was recorded
        return rows
    where = f"s3://{bucket}/{key}"
    if record is None:
        raise ArchiveError(
            f"{where} exists but measurement_archives has no record of it, so retention did not write it "
            f"(planted, or another deployment's): it holds {len(rows)} rows (checksum {found[2][:12]}…). Nothing "
            "was merged, restored or dropped. Check the file, move it out of archive/, then re-run; keep "
            "archives in a bucket Heimdall's writers cannot write to (HEIMDALL_ARCHIVE_BUCKET)."
        )
    raise ArchiveError(
        f"{where} holds {len(rows)} rows (checksum {found[2][:12]}…) but measurement_archives recorded "
        f"{record.row_count} (checksum {record.checksum[:12]}…): it changed after retention wrote it. Nothing "
        "was merged, restored or dropped. Put the recorded version back (bucket versioning or a backup) "
        "and re-run; the archive bucket should be one Heimdall's writers cannot write to."
    )


def archive_write_intent(conn: psycopg.Connection, day: date) -> tuple[str, int, str] | None:
    """(object key, row count, checksum) of an archive write started for `day` and not recorded."""
    with conn.cursor() as cur:
        cur.execute(read_sql("lifecycle/retention/archive_write_intent.sql"), {"day": day})
        row = cur.fetchone()
    return tuple(row) if row else None


def _record_archive(conn: psycopg.Connection, day: date, key: str, row_count: int, digest: str) -> None:
    with conn.transaction():
        params = {"day": day, "object_key": key, "row_count": row_count, "checksum": digest}
        conn.execute(read_sql("lifecycle/retention/record_archive.sql"), params)
        conn.execute(read_sql("lifecycle/retention/finish_archive_write.sql"), {"day": day})


def archive_day(conn: psycopg.Connection, s3, bucket: str, day: date) -> ArchiveResult:
    """Write the day's rows, merged with the day's trusted earlier archive, and record the archive.

    Writes nothing when that archive already holds every row. The write is recorded as started
    before the PUT, so a crash between the PUT and the record leaves an object the next run trusts.
    """
    rows = day_rows(conn, day)
    existing = trusted_archive(conn, s3, bucket, day)
    record = archive_record(conn, day)
    if record and record.dropped_at is not None and existing is None:
        raise ArchiveError(f"{day} was dropped but {archive_key(day)} is missing from s3://{bucket}")
    merged = {_primary_key(row): row for row in existing or []}
    unarchived = [row for row in rows if _primary_key(row) not in merged]
    merged.update((_primary_key(row), row) for row in unarchived)
    merged_rows = sorted(merged.values(), key=_primary_key)
    digest = checksum(merged_rows)
    key = archive_key(day)
    if existing is not None and not unarchived:
        return ArchiveResult(key, len(merged_rows), digest, written=False)  # trusted: recorded as it is
    with conn.transaction():
        conn.execute(
            read_sql("lifecycle/retention/record_archive_write.sql"),
            {"day": day, "object_key": key, "row_count": len(merged_rows), "checksum": digest},
        )
    s3.put_object(Bucket=bucket, Key=key, Body=_parquet(merged_rows), ContentType="application/vnd.apache.parquet")
    _record_archive(conn, day, key, len(merged_rows), digest)
    return ArchiveResult(key, len(merged_rows), digest, written=True)


def verify_archive(conn: psycopg.Connection, s3, bucket: str, day: date) -> list[Row]:
    """Read the archive back: it must exist and match the record's row count and checksum."""
    record = archive_record(conn, day)
    if record is None:
        raise ArchiveError(f"{day} has no archive record")
    rows = read_archive(s3, bucket, day)
    if rows is None:
        raise ArchiveError(f"{record.object_key} is missing from s3://{bucket}")
    if len(rows) != record.row_count or checksum(rows) != record.checksum:
        raise ArchiveError(
            f"{record.object_key} holds {len(rows)} rows (checksum {checksum(rows)[:12]}…), "
            f"the record says {record.row_count} (checksum {record.checksum[:12]}…)"
        )
    return rows


def drop_day(conn: psycopg.Connection, day: date, archived_rows: Sequence[Row]) -> DropResult:
    """Drop the day from `measurements` once every row is in the verified archive and the
    hourly aggregates hold the day; all in one transaction that blocks inserts."""
    start, end = day_bounds(day)
    window = {"start": start, "end": end}
    archived = {_primary_key(row): row for row in archived_rows}
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET LOCAL TIME ZONE 'UTC'")
        cur.execute(read_sql("lifecycle/retention/lock_measurements.sql"))
        rows = day_rows(conn, day)
        unarchived = [row for row in rows if archived.get(_primary_key(row)) != row]
        if unarchived:
            raise ArchiveError(f"{len(unarchived)} rows of {day} are not in its archive; the next run archives them")
        refreshed = bool(hourly_mismatches(conn, start, end))
        if refreshed:
            refresh_hourly(conn, day)
        cur.execute(read_sql("lifecycle/retention/drop_day_chunks.sql"), {"day": day})
        chunks = scalar(cur)
        cur.execute(read_sql("lifecycle/retention/delete_day_rows.sql"), window)
        cur.execute(read_sql("lifecycle/retention/mark_dropped.sql"), {"day": day})
    return DropResult(rows_dropped=len(rows), chunks_dropped=chunks, hourly_refreshed=refreshed)


def restore_day(conn: psycopg.Connection, s3, bucket: str, day: date) -> tuple[int, LoadResult]:
    """Load the day's archive back into `measurements` (existing rows are kept as they are).

    Returns (rows in the archive, load result). The day counts as not dropped afterwards, so
    the next retention run re-verifies and drops it again if it is still expired. Only an archive
    that matches its record is restored (`trusted_archive`).
    """
    rows = trusted_archive(conn, s3, bucket, day)
    if rows is None:
        raise ArchiveError(f"no archive for {day}: s3://{bucket}/{archive_key(day)} does not exist")
    with conn.transaction():
        result = load_rows(conn, rows)
        conn.execute(read_sql("lifecycle/retention/mark_restored.sql"), {"day": day})
    return len(rows), result


def retire_day(conn: psycopg.Connection, s3, bucket: str, day: date) -> DayRetirement:
    """Archive → verify → drop for one day (see the module docstring)."""
    record = archive_record(conn, day)
    restored_first = 0
    if record is not None and record.dropped_at is not None:
        restored_first = restore_day(conn, s3, bucket, day)[1].inserted
    archive = archive_day(conn, s3, bucket, day)
    archived_rows = verify_archive(conn, s3, bucket, day)
    drop = drop_day(conn, day, archived_rows)
    return DayRetirement(day, restored_first, archive, drop)


def _primary_key(row: Row) -> tuple:
    return (row[0], row[1], row[5])  # task_id, websdr_id, timestamp_utc


def _normalised(row: Sequence) -> Row:
    timestamp = row[5]
    return (*row[:5], timestamp.astimezone(UTC), *row[6:])


def _parquet(rows: Sequence[Row]) -> bytes:
    columns: list[Sequence] = list(zip(*rows)) if rows else [[] for _ in COLUMNS]
    table = pa.Table.from_arrays([pa.array(list(c), type=f.type) for c, f in zip(columns, ARCHIVE_SCHEMA)], schema=ARCHIVE_SCHEMA)
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()
