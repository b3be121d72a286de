"""Retention archives, verifies and drops without losing a row; restore brings the rows back."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from heimdall_pipeline.analytics.aggregates import DayArchivedError, day_bounds, refresh_hourly
from heimdall_pipeline.core.db import connect
from heimdall_pipeline.ingest.loader import load_measurements
from heimdall_pipeline.ingest.measurement import COLUMNS
from heimdall_pipeline.lifecycle.retention import (
    ARCHIVE_SCHEMA,
    ArchiveError,
    _parquet,
    archive_day,
    archive_key,
    archive_record,
    day_rows,
    drop_day,
    expired_days,
    read_archive,
    restore_day,
    retire_day,
    verify_archive,
)
from heimdall_pipeline_tests.measurement_rows import measurement, realistic_day, utc

OLD, OLDER, RECENT = date(2025, 1, 2), date(2025, 1, 1), date(2025, 2, 14)
AS_OF = utc(2025, 2, 15, 3)  # 30 days back from 2025-02-15: everything before 2025-01-16 expires


@pytest.fixture
def conn(clean_database_url, archiver_database_url):
    """As the archiver role: retention writes the archive records and drops days, which the pipeline role may not."""
    with connect(archiver_database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def three_days(conn):
    for seed, day in enumerate((OLDER, OLD, RECENT)):
        load_measurements(conn, realistic_day(day, sessions=25, seed=seed))
    refresh_hourly(conn, OLDER)
    refresh_hourly(conn, RECENT)  # OLD has no hourly rows yet: retention must make them first
    return {day: day_rows(conn, day) for day in (OLDER, OLD, RECENT)}


def hourly(conn, day):
    return conn.execute(
        "SELECT * FROM measurements_hourly WHERE bucket >= %s AND bucket < %s ORDER BY 1, 2, 3", day_bounds(day)
    ).fetchall()


def chunk_days(conn):
    return conn.execute(
        "SELECT (range_start AT TIME ZONE 'UTC')::date FROM timescaledb_information.chunks"
        " WHERE hypertable_name = 'measurements' ORDER BY 1"
    ).fetchall()


def test_archive_schema_is_the_loader_columns():
    assert tuple(ARCHIVE_SCHEMA.names) == COLUMNS


def test_retention_archives_verifies_drops_and_restore_brings_the_rows_back(conn, s3, bucket, three_days):
    older_hourly = hourly(conn, OLDER)
    assert expired_days(conn, AS_OF) == [OLDER, OLD]
    assert expired_days(conn, AS_OF, retention_days=60) == []

    retired = [retire_day(conn, s3, bucket, day) for day in expired_days(conn, AS_OF)]
    assert [r.archive.written for r in retired] == [True, True]
    assert [r.drop.rows_dropped for r in retired] == [len(three_days[OLDER]), len(three_days[OLD])]
    assert [r.drop.chunks_dropped for r in retired] == [1, 1]  # 1-day chunks aligned to UTC midnight
    assert [r.drop.hourly_refreshed for r in retired] == [False, True]

    # Rows and chunks gone, the recent day untouched, the hourly aggregates kept.
    assert day_rows(conn, OLDER) == day_rows(conn, OLD) == []
    assert chunk_days(conn) == [(RECENT,)]
    assert day_rows(conn, RECENT) == three_days[RECENT]
    assert hourly(conn, OLDER) == older_hourly
    assert sum(row[3] for row in hourly(conn, OLD)) == len(three_days[OLD])

    # The archive holds exactly the rows, every column.
    for day in (OLDER, OLD):
        assert read_archive(s3, bucket, day) == three_days[day]
        record = archive_record(conn, day)
        assert (record.object_key, record.row_count) == (archive_key(day), len(three_days[day]))
        assert record.dropped_at is not None
    assert archive_key(OLD) == "archive/measurements/date=2025-01-02/measurements.parquet"

    # Re-running changes nothing.
    etag = s3.head_object(Bucket=bucket, Key=archive_key(OLD))["ETag"]
    assert expired_days(conn, AS_OF) == []
    assert s3.head_object(Bucket=bucket, Key=archive_key(OLD))["ETag"] == etag

    # Restore: the same rows, all columns; twice is the same as once.
    assert restore_day(conn, s3, bucket, OLD)[1].inserted == len(three_days[OLD])
    assert day_rows(conn, OLD) == three_days[OLD]
    assert restore_day(conn, s3, bucket, OLD)[1].inserted == 0
    assert day_rows(conn, OLD) == three_days[OLD]
    assert archive_record(conn, OLD).dropped_at is None

    # The restored day is still expired: the next run re-verifies without rewriting, and drops it.
    again = retire_day(conn, s3, bucket, OLD)
    assert (again.archive.written, again.drop.rows_dropped, again.drop.hourly_refreshed) == (
        False,
        len(three_days[OLD]),
        False,
    )
    assert s3.head_object(Bucket=bucket, Key=archive_key(OLD))["ETag"] == etag


def test_crash_between_archive_and_drop_loses_nothing(conn, s3, bucket, three_days):
    archive_day(conn, s3, bucket, OLD)
    verify_archive(conn, s3, bucket, OLD)
    # ... the process dies here: the rows are still in the database, the archive is recorded.
    assert day_rows(conn, OLD) == three_days[OLD]
    assert archive_record(conn, OLD).dropped_at is None

    retired = retire_day(conn, s3, bucket, OLD)
    assert (retired.archive.written, retired.drop.rows_dropped) == (False, len(three_days[OLD]))
    restore_day(conn, s3, bucket, OLD)
    assert day_rows(conn, OLD) == three_days[OLD]


def test_late_rows_for_a_dropped_day_are_folded_into_its_archive(conn, s3, bucket, three_days):
    retire_day(conn, s3, bucket, OLD)
    late = [measurement("late-upload", 4, utc(2025, 1, 2, 23, 59), 7.5, -3.0)]
    load_measurements(conn, late)
    with pytest.raises(DayArchivedError):
        refresh_hourly(conn, OLD)

    retired = retire_day(conn, s3, bucket, OLD)
    assert retired.restored_first == len(three_days[OLD])
    assert retired.archive.written and retired.drop.hourly_refreshed
    everything = sorted(three_days[OLD] + day_rows_of(late), key=lambda r: (r[0], r[1], r[5]))
    assert read_archive(s3, bucket, OLD) == everything
    assert sum(row[3] for row in hourly(conn, OLD)) == len(everything)
    assert day_rows(conn, OLD) == []


def day_rows_of(measurements):
    return [m.as_row() for m in measurements]


def test_drop_refuses_rows_missing_from_the_archive(conn, s3, bucket, three_days):
    archive_day(conn, s3, bucket, OLD)
    verified = verify_archive(conn, s3, bucket, OLD)
    load_measurements(conn, [measurement("arrived-after-archiving", 2, utc(2025, 1, 2, 12), 9.0)])
    with pytest.raises(ArchiveError, match="1 rows of 2025-01-02 are not in its archive"):
        drop_day(conn, OLD, verified)
    assert len(day_rows(conn, OLD)) == len(three_days[OLD]) + 1
    assert archive_record(conn, OLD).dropped_at is None


def test_verify_catches_a_damaged_archive(conn, s3, bucket, three_days):
    archive_day(conn, s3, bucket, OLD)
    record = archive_record(conn, OLD)
    # The same number of rows, one value changed: only the checksum can tell.
    damaged = list(three_days[OLD])
    damaged[0] = (*damaged[0][:6], damaged[0][6] + 0.5, *damaged[0][7:])
    s3.put_object(Bucket=bucket, Key=archive_key(OLD), Body=_parquet(damaged))
    assert len(read_archive(s3, bucket, OLD)) == record.row_count

    with pytest.raises(ArchiveError, match=rf"holds {record.row_count} rows .* the record says {record.row_count}"):
        verify_archive(conn, s3, bucket, OLD)
    with pytest.raises(ArchiveError, match="no archive for"):
        restore_day(conn, s3, bucket, date(2024, 6, 1))


def test_a_chunk_only_partly_inside_the_day_keeps_its_other_rows(conn, owner_database_url, s3, bucket):
    """Chunks of 36 hours (aligned to the epoch, so they start at 00:00 or 12:00 UTC) straddle days:
    retiring one day deletes exactly its rows and keeps the rest of each straddling chunk."""
    owner = connect(owner_database_url, autocommit=True)  # the chunk interval is the owner's to change
    owner.execute("SELECT set_chunk_time_interval('measurements', INTERVAL '36 hours')")
    try:
        days = [date(2025, 1, 1) + timedelta(days=offset) for offset in range(4)]
        for seed, day in enumerate(days):
            load_measurements(conn, realistic_day(day, sessions=8, seed=seed))
        before = {day: day_rows(conn, day) for day in days}
        target = days[1]
        start, end = day_bounds(target)
        straddling = conn.execute(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'measurements'"
            " AND range_start < %s AND range_end > %s AND (range_start < %s OR range_end > %s)",
            (end, start, start, end),
        ).fetchone()[0]
        assert straddling >= 1  # the situation under test exists

        retired = retire_day(conn, s3, bucket, target)

        assert retired.drop.rows_dropped == len(before[target])
        assert day_rows(conn, target) == []
        assert {day: day_rows(conn, day) for day in days if day != target} == {
            day: rows for day, rows in before.items() if day != target
        }
        assert read_archive(s3, bucket, target) == before[target]
    finally:
        with owner:
            owner.execute("TRUNCATE measurements")  # drops the 36-hour chunks with their rows
            owner.execute("SELECT set_chunk_time_interval('measurements', INTERVAL '1 day')")
