"""`measurements_hourly`: hourly aggregates per receiver and frequency, rebuilt a day at a time.

A plain table on every TimescaleDB edition, not a continuous aggregate: the Apache edition has
none, and refreshing one over a day that retention dropped would empty it (archive-then-drop keeps
a dropped day's hours here). Exact percentile_cont would work in one (TimescaleDB >= 2.7).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import psycopg

from heimdall_pipeline.core.db import read_sql, scalar
from heimdall_pipeline.core.locks import advisory_locks
from heimdall_pipeline.ingest.ledger import measurement_days_of_uploads
from heimdall_pipeline.ingest.uploads import upload_days

logger = logging.getLogger(__name__)


class DayArchivedError(RuntimeError):
    """The day's raw rows were archived and dropped; recomputing would lose them from the aggregate."""


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=UTC)
    return start, start + timedelta(days=1)


def is_day_dropped(conn: psycopg.Connection, day: date) -> bool:
    """Whether retention archived the day and dropped its raw rows (late rows may have arrived since)."""
    with conn.cursor() as cur:
        cur.execute(read_sql("analytics/aggregates/day_dropped.sql"), {"day": day})
        return scalar(cur)


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


def days_to_aggregate(conn: psycopg.Connection, start: datetime, end: datetime) -> list[date]:
    """The upload window's days and every measurement day its uploads carry (late uploads reach back)."""
    return sorted(set(upload_days(start, end)) | set(measurement_days_of_uploads(conn, start, end)))


def hourly_day_lock(day: date) -> str:
    """The advisory lock a run holds while it refreshes `day`'s hourly aggregates."""
    return f"heimdall:hourly-day:{day}"


@dataclass(frozen=True)
class HourlyRefresh:
    groups: dict[date, int]  # day refreshed: hourly groups written
    archived: list[date]  # days retention dropped, left as they are


def refresh_hourly_days(conn: psycopg.Connection, days: Iterable[date], *, log: Any = logger) -> HourlyRefresh:
    """Refresh each of `days` once, in order, under its hourly_day_lock. A day retention dropped is
    left as it is: recomputing would keep only its late rows, and the archive holds the rest (the
    next retention run restores, re-archives and refreshes it). `log`: as advisory_locks'."""
    groups: dict[date, int] = {}
    archived: list[date] = []
    for day in sorted(set(days)):
        with advisory_locks(conn, [hourly_day_lock(day)], log=log):
            if is_day_dropped(conn, day):
                archived.append(day)
                continue
            groups[day] = refresh_hourly(conn, day)
    return HourlyRefresh(groups, archived)


def hourly_mismatches(conn: psycopg.Connection, start: datetime, end: datetime) -> list[tuple]:
    """Hourly groups in [start, end) where measurements_hourly differs from a from-scratch
    recomputation: `(bucket, websdr_id, frequency_mhz, expected_count, actual_count)`; empty = exact."""
    with conn.cursor() as cur:
        cur.execute(read_sql("analytics/aggregates/hourly_mismatches.sql"), {"start": start, "end": end})
        return cur.fetchall()
