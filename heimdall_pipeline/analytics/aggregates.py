"""`measurements_hourly`: hourly aggregates per receiver and frequency, rebuilt a day at a time.

A plain table on every TimescaleDB edition, not a continuous aggregate: the Apache edition has
none, and refreshing one over a day that retention dropped would empty it (archive-then-drop keeps
a dropped day's hours here). Exact percentile_cont would work in one (TimescaleDB >= 2.7).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import psycopg

from heimdall_pipeline.core.db import read_sql


class DayArchivedError(RuntimeError):
    """The day's raw rows were archived and dropped; recomputing would lose them from the aggregate."""


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=timezone.utc)
    return start, start + timedelta(days=1)


def is_day_dropped(conn: psycopg.Connection, day: date) -> bool:
    """Whether retention archived the day and dropped its raw rows (late rows may have arrived since)."""
    with conn.cursor() as cur:
        cur.execute(read_sql("analytics/aggregates/day_dropped.sql"), {"day": day})
        return cur.fetchone()[0]


def refresh_hourly(conn: psycopg.Connection, day: date) -> int:
    """Atomically replace `day`'s hourly groups with a recomputation; returns the groups written.

    Refuses a day the retention job has dropped (late rows for it arrived since): run
    `restore_job` for the day, then this, or let the next `retention_job` run fold them in.
    """
    start, end = day_bounds(day)
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(read_sql("analytics/aggregates/lock_hourly_day.sql"), {"day_number": day.toordinal()})
        if is_day_dropped(conn, day):
            raise DayArchivedError(
                f"{day} was archived and its raw rows dropped; recomputing it would drop the archived rows "
                "from measurements_hourly. Run restore_job for the day first (the next retention_job run "
                "re-archives and drops it with the new rows included)."
            )
        window = {"start": start, "end": end}
        cur.execute(read_sql("analytics/aggregates/delete_hourly_day.sql"), window)
        cur.execute(read_sql("analytics/aggregates/insert_hourly_day.sql"), window)
        return cur.rowcount


def hourly_mismatches(conn: psycopg.Connection, start: datetime, end: datetime) -> list[tuple]:
    """Hourly groups in [start, end) where measurements_hourly differs from a from-scratch
    recomputation: `(bucket, websdr_id, frequency_mhz, expected_count, actual_count)`; empty = exact."""
    with conn.cursor() as cur:
        cur.execute(read_sql("analytics/aggregates/hourly_mismatches.sql"), {"start": start, "end": end})
        return cur.fetchall()
