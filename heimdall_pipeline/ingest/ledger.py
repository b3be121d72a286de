"""Questions the pipeline asks the ingest ledger: which measurement days an upload window touched,
what the ledger knows of some keys, the data-quality figures the asset checks report.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

import psycopg

from heimdall_pipeline.core.db import one_row, read_sql

logger = logging.getLogger(__name__)


def measurement_days_of_uploads(conn: psycopg.Connection, start: datetime, end: datetime) -> list[date]:
    """UTC days of the measurements that objects uploaded in [start, end) carry (their own rows or the ones already there)."""
    with conn.cursor() as cur:
        cur.execute(read_sql("ingest/ledger/measurement_days_of_uploads.sql"), {"start": start, "end": end})
        return [day for (day,) in cur.fetchall()]


def day_discovery(conn: psycopg.Connection, start: datetime, end: datetime) -> dict[str, int]:
    """`{listed_by: objects}` for objects uploaded in [start, end): how discovery found them."""
    with conn.cursor() as cur:
        cur.execute(read_sql("ingest/ledger/day_discovery.sql"), {"start": start, "end": end})
        return dict(cur.fetchall())


def unfinished_entries(conn: psycopg.Connection, start: datetime, end: datetime, limit: int) -> list[tuple[str, str]]:
    """The first `limit` (key, status) of objects uploaded in [start, end) still pending or failed."""
    with conn.cursor() as cur:
        cur.execute(read_sql("ingest/ledger/unfinished_entries.sql"), {"start": start, "end": end, "limit": limit})
        return cur.fetchall()


@dataclass(frozen=True)
class ReceiverCount:
    websdr_id: int  # the station's last id in the window
    name: str
    measurements: int
    station_key: str
    websdr_ids: str  # every id it had in the window, oldest first: "4, 3" when renumbered


def receiver_counts(conn: psycopg.Connection, start: datetime, end: datetime) -> list[ReceiverCount]:
    """Every station active at some moment of [start, end), with its rows among the upload day's
    rows (those partition_rows counts) that its id named at the row's time."""
    with conn.cursor() as cur:
        cur.execute(read_sql("ingest/checks/missing_receivers.sql"), {"start": start, "end": end})
        return [ReceiverCount(*row) for row in cur.fetchall()]


def unknown_receiver_ids(conn: psycopg.Connection, start: datetime, end: datetime) -> dict[int, int]:
    """`{websdr_id: rows}` among the upload day's rows whose id no station had at the row's time
    (the receiver list needs a sync)."""
    with conn.cursor() as cur:
        cur.execute(read_sql("ingest/checks/unknown_receiver_ids.sql"), {"start": start, "end": end})
        return dict(cur.fetchall())


# Heimdall's SNR is a ratio of in-band to noise power over a 12.5 kHz recording: far below -30 dB
# nothing is detectable, above 80 dB the receiver would be saturated.
PLAUSIBLE_SNR_RANGE_DB = (-30.0, 80.0)


@dataclass(frozen=True)
class PartitionRows:
    """The rows of an upload day, whoever inserted them (sql/ingest/ledger/partition_rows.sql)."""

    measurements: int
    measured_on_day: int
    measured_on_other_days: int  # named by the day's uploads (late uploads)
    snr_out_of_range: int
    min_snr_db: float | None
    max_snr_db: float | None
    offset_out_of_range: int  # |frequency_offset_hz| over sample_rate/2
    max_abs_offset_hz: float | None


def partition_rows(
    conn: psycopg.Connection, start: datetime, end: datetime, snr_range_db: tuple[float, float] = PLAUSIBLE_SNR_RANGE_DB
) -> PartitionRows:
    """The rows measured in [start, end) and those the uploads of [start, end) name, with what the
    SNR (outside `snr_range_db`) and frequency offset checks look for."""
    with conn.cursor() as cur:
        cur.execute(
            read_sql("ingest/ledger/partition_rows.sql"),
            {"start": start, "end": end, "min_snr_db": snr_range_db[0], "max_snr_db": snr_range_db[1]},
        )
        return PartitionRows(*one_row(cur))


def day_conflicts(conn: psycopg.Connection, start: datetime, end: datetime, limit: int) -> tuple[int, list[tuple[str, str]]]:
    """Objects uploaded in [start, end) in conflict with a stored row: (how many, the first `limit`
    as (object key, reason))."""
    with conn.cursor() as cur:
        cur.execute(read_sql("ingest/checks/day_conflicts.sql"), {"start": start, "end": end, "limit": limit})
        rows = cur.fetchall()
    return (rows[0][0] if rows else 0), [(key, reason) for _, key, reason in rows]
