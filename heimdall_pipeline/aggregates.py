"""`measurements_hourly`: hourly aggregates per receiver and frequency, rebuilt a day at a time."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import psycopg

from heimdall_pipeline.db import read_sql


def day_bounds(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(0), tzinfo=timezone.utc)
    return start, start + timedelta(days=1)


def refresh_hourly(conn: psycopg.Connection, day: date) -> int:
    """Atomically replace `day`'s hourly groups with a recomputation; returns the groups written."""
    start, end = day_bounds(day)
    with conn.transaction(), conn.cursor() as cur:
        window = {"start": start, "end": end}
        cur.execute(read_sql("aggregates/delete_hourly_day.sql"), window)
        cur.execute(read_sql("aggregates/insert_hourly_day.sql"), window)
        return cur.rowcount
