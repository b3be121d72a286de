"""Freshness of the data itself, not of runs: are uploads still arriving, is every active receiver
still heard? Without Dagster: each rule reads the database and returns a CheckOutcome, which
heimdall_pipeline.defs.lifecycle.freshness records as an asset check result (and the alerts sensor
then reports when it starts failing).

- uploads_arriving: the newest object in ingest_ledger (by its upload time, LastModified) is at
  most HEIMDALL_FRESHNESS_UPLOAD_HOURS old (default 6). Older: Heimdall stopped uploading, or
  discovery stopped recording (the sensor off, notifications lost); ERROR. An empty ledger is not
  stale: nothing has started to stop.
- receivers_heard: every station active now (websdr_station_versions) has a measurement within
  HEIMDALL_FRESHNESS_RECEIVER_HOURS (default 6), counted from when it was last heard, or from the
  start of its current active period, or from the oldest data in the database, whichever is
  latest (a station activated an hour ago is not silent yet; neither is any station before the
  database holds a measurement); WARN: the other receivers' data still arrives.

Each outcome carries `alert_key` (heimdall_pipeline.lifecycle.alerts): the newest object, or the
silent stations, so a stale stream alerts once, and again only when what is stale changes.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from heimdall_pipeline.core.db import one_row, read_sql
from heimdall_pipeline.core.settings import bounded_int
from heimdall_pipeline.ingest.checks import CheckOutcome, Markdown, Severity
from heimdall_pipeline.lifecycle.alerts import ALERT_KEY

DEFAULT_UPLOAD_HOURS = 6
DEFAULT_RECEIVER_HOURS = 6
HOURS_RANGE = (1, 24 * 366)


@dataclass(frozen=True)
class Thresholds:
    upload_hours: int = DEFAULT_UPLOAD_HOURS
    receiver_hours: int = DEFAULT_RECEIVER_HOURS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Thresholds:
        """HEIMDALL_FRESHNESS_UPLOAD_HOURS / _RECEIVER_HOURS, whole hours within HOURS_RANGE."""
        env = os.environ if environ is None else environ
        return cls(
            upload_hours=bounded_int(env, "HEIMDALL_FRESHNESS_UPLOAD_HOURS", DEFAULT_UPLOAD_HOURS, *HOURS_RANGE),
            receiver_hours=bounded_int(env, "HEIMDALL_FRESHNESS_RECEIVER_HOURS", DEFAULT_RECEIVER_HOURS, *HOURS_RANGE),
        )


def uploads_arriving(conn: psycopg.Connection, hours: int) -> CheckOutcome:
    """The newest upload in the ledger is at most `hours` old (ERROR)."""
    checked_at, key, uploaded_at, listed_at = one_row(conn.execute(read_sql("lifecycle/freshness/newest_upload.sql")))
    metadata: dict[str, Any] = {"threshold (hours)": hours, "checked at": _when(checked_at)}
    if key is None:
        return CheckOutcome(
            passed=True,
            severity=Severity.ERROR,
            description="no upload recorded in ingest_ledger yet: nothing to be stale",
            metadata={**metadata, "newest upload": "-"},
        )
    age = checked_at - uploaded_at
    stale = age > timedelta(hours=hours)
    description = (
        f"no upload for {_hours(age)} (more than {hours} h): the newest object, {key}, was uploaded "
        f"{_when(uploaded_at)}; is Heimdall uploading, and is discovery (new_metadata_objects_sensor, "
        "notifications) recording?"
        if stale
        else f"newest upload {_hours(age)} ago ({_when(uploaded_at)})"
    )
    return CheckOutcome(
        passed=not stale,
        severity=Severity.ERROR,
        description=description,
        metadata={
            **metadata,
            "newest upload": _when(uploaded_at),
            "hours since the newest upload": round(age.total_seconds() / 3600, 2),
            "newest object": key,
            "newest object recorded in the ledger": _when(listed_at),
            **({ALERT_KEY: key} if stale else {}),
        },
    )


@dataclass(frozen=True)
class ReceiverState:
    station_key: str
    websdr_id: int
    name: str
    active_since: datetime | None  # None: since the start of the list
    last_heard: datetime | None  # None: never
    silent_since: datetime | None  # None: not expected yet (no data in the database)
    silent_for: timedelta | None


def receiver_states(conn: psycopg.Connection) -> list[ReceiverState]:
    """Every station active now, with since when it has been expected to be heard and was not."""
    states = []
    for key, websdr_id, name, active_since, last_heard, data_since, checked_at in conn.execute(
        read_sql("lifecycle/freshness/receivers_last_heard.sql")
    ):
        since = max((t for t in (active_since, last_heard, data_since) if t is not None), default=None)
        if data_since is None:
            since = None
        states.append(ReceiverState(key, websdr_id, name, active_since, last_heard, since, checked_at - since if since else None))
    return states


def receivers_heard(conn: psycopg.Connection, hours: int) -> CheckOutcome:
    """Every active station has a measurement within `hours`, counted as the module says (WARN)."""
    states = receiver_states(conn)
    limit = timedelta(hours=hours)
    silent = [s for s in states if s.silent_for is not None and s.silent_for > limit]
    table = "\n".join(
        f"| {s.websdr_id} | {s.name} | {_when(s.last_heard)} | "
        f"{_hours(s.silent_for) if s.silent_for is not None else '-'} | {_when(s.active_since) if s.active_since else 'start'} |"
        for s in states
    )
    if not states:
        description = "no station is active (websdr_station_versions)"
    elif all(s.silent_since is None for s in states):
        description = "no measurement stored yet: no receiver can be silent (uploads_arriving watches the stream)"
    elif silent:
        description = f"silent for more than {hours} h: " + ", ".join(
            f"{s.name} (id {s.websdr_id}, last heard {_when(s.last_heard)})" for s in silent
        )
    else:
        description = f"all {len(states)} active receivers heard within {hours} h"
    return CheckOutcome(
        passed=not silent,
        severity=Severity.WARN,
        description=description,
        metadata={
            "threshold (hours)": hours,
            "silent receivers": ", ".join(s.name for s in silent) or "-",
            "active receivers": len(states),
            "receivers": Markdown("| id | receiver | last heard | silent for | active since |\n|---|---|---|---|---|\n" + table),
            **({ALERT_KEY: ",".join(s.station_key for s in silent)} if silent else {}),
        },
    )


def _when(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC" if moment else "never"


def _hours(span: timedelta) -> str:
    return f"{span.total_seconds() / 3600:.1f} h"
