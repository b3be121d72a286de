"""Retention trusts only the archive objects it wrote: a planted Parquet file, or a recorded one
whose content was replaced (same row count, other values), is refused before any merge, restore or
drop; a crash between the PUT and the record is recognised as retention's own write."""

from __future__ import annotations

import io

import pyarrow.parquet as pq
import pytest

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.defs.lifecycle.retention import restore_job
from heimdall_pipeline.ingest.loader import load_measurements
from heimdall_pipeline.lifecycle.retention import (
    ArchiveError,
    _parquet,
    archive_day,
    archive_key,
    archive_record,
    archive_write_intent,
    checksum,
    day_rows,
    restore_day,
    retire_day,
    verify_archive,
)
from heimdall_pipeline_tests.defs.conftest import QUIET
from heimdall_pipeline_tests.lifecycle.test_retention import OLD, OLDER
from heimdall_pipeline_tests.measurement_rows import realistic_day


@pytest.fixture
def conn(clean_database_url, archiver_database_url):
    """As the archiver role: retention writes the archive records and drops days, which the pipeline role may not."""
    with connect(archiver_database_url, autocommit=True) as conn:
        load_measurements(conn, realistic_day(OLD, sessions=10, seed=1))
        load_measurements(conn, realistic_day(OLDER, sessions=10, seed=2))
        yield conn


def same_count_other_values(rows):
    """The same number of rows, one SNR changed: only the checksum can tell."""
    changed = list(rows)
    first = changed[0]
    changed[0] = (*first[:6], (first[6] or 0.0) + 1.0, *first[7:])
    return changed


def test_a_planted_archive_is_neither_merged_nor_restored(resources, conn, s3, bucket):
    planted = same_count_other_values(day_rows(conn, OLD))
    s3.put_object(Bucket=bucket, Key=archive_key(OLD), Body=_parquet(planted))
    rows_before = day_rows(conn, OLD)

    with pytest.raises(ArchiveError, match=r"measurement_archives has no record of it.*HEIMDALL_ARCHIVE_BUCKET"):
        retire_day(conn, s3, bucket, OLD)
    assert day_rows(conn, OLD) == rows_before and archive_record(conn, OLD) is None
    with pytest.raises(ArchiveError, match=rf"s3://{bucket}/{archive_key(OLD)} exists but"):
        restore_day(conn, s3, bucket, OLD)

    config = {**QUIET, "ops": {"restore_archived_day": {"config": {"day": OLD.isoformat()}}}}
    restored = restore_job.execute_in_process(resources=resources, run_config=config, raise_on_error=False)
    assert not restored.success
    (failure,) = [event for event in restored.all_events if event.is_step_failure]
    assert "ArchiveError" in failure.step_failure_data.error.cause.cls_name
    assert "has no record of it" in failure.step_failure_data.error.cause.message
    assert day_rows(conn, OLD) == rows_before  # nothing restored over the real rows


def test_a_recorded_archive_replaced_with_the_same_row_count_is_refused(conn, s3, bucket):
    archive_day(conn, s3, bucket, OLD)
    recorded = archive_record(conn, OLD)
    archived = day_rows(conn, OLD)
    forged = same_count_other_values(archived)
    assert len(forged) == recorded.row_count and checksum(forged) != recorded.checksum
    s3.put_object(Bucket=bucket, Key=archive_key(OLD), Body=_parquet(forged))

    with pytest.raises(ArchiveError, match=r"changed after retention wrote it"):
        retire_day(conn, s3, bucket, OLD)
    with pytest.raises(ArchiveError, match=r"the record says"):
        verify_archive(conn, s3, bucket, OLD)
    with pytest.raises(ArchiveError, match=r"changed after retention wrote it"):
        restore_day(conn, s3, bucket, OLD)
    assert day_rows(conn, OLD) == archived and archive_record(conn, OLD) == recorded


def test_a_crash_between_the_put_and_the_record_is_finished_by_the_next_run(conn, s3, bucket):
    rows = day_rows(conn, OLD)
    # What archive_day does before it dies: the write recorded as started, then the PUT.
    conn.execute(
        "INSERT INTO measurement_archive_writes (day, object_key, row_count, checksum) VALUES (%s, %s, %s, %s)",
        (OLD, archive_key(OLD), len(rows), checksum(rows)),
    )
    s3.put_object(Bucket=bucket, Key=archive_key(OLD), Body=_parquet(rows))

    retired = retire_day(conn, s3, bucket, OLD)

    assert (retired.archive.written, retired.drop.rows_dropped) == (False, len(rows))
    assert archive_record(conn, OLD).checksum == checksum(rows) and archive_write_intent(conn, OLD) is None
    table = pq.read_table(io.BytesIO(s3.get_object(Bucket=bucket, Key=archive_key(OLD))["Body"].read()))
    assert table.num_rows == len(rows)
