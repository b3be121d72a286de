"""Discovery: how new objects reach the ledger, and how the ledger turns them into runs.

Two ways in, one arbiter (the ledger, by key and ETag):

- **Notifications** (ingest.events, the `heimdall-events` consumer): O(new objects). The consumer
  records each object it is told about and loads it at once; the sensor then requests a run for
  each upload day that got such entries since its last tick (`event_requests`), for the day's
  checks, aggregates and materialization.
- **Reconciliation** (`reconcile_slice`): the bounded listing that proves nothing was missed. Each
  sensor tick lists the next `pages` pages of `sessions/` in key order (1,000 keys a page), records
  the slice's metadata objects in the ledger (new or changed ones become pending, known ones are
  left as they are) and requests a run for each upload day that got new entries. A full pass over
  N keys takes N / (1,000 × pages) ticks. With notifications off this is all there is, as before;
  with them on, what it finds is what the notifications missed, and it says how many.

A partition run never lists: it loads what the ledger has pending for its day.

Objects the ledger has but that are still pending (their run failed, their GET failed after its
retries) are not new: `pending_retries` finds the upload days that still hold such objects after
PENDING_RETRY_AFTER and requests one more run for each, a bounded number of days per tick; each
run counts an attempt per failed object, and after DEFAULT_MAX_LOAD_ATTEMPTS the object is 'failed'.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

import psycopg

from heimdall_pipeline.core.db import read_sql, scalar
from heimdall_pipeline.core.object_store import ObjectInfo, list_slice
from heimdall_pipeline.core.settings import DEFAULT_RECONCILE_PAGES_PER_TICK
from heimdall_pipeline.ingest.loader import LISTED_BY_LISTING, record_listed

# Entries the consumer records are requested once this much older than the database's clock, so
# that a transaction still open when the sensor looks (it stamped listed_at at its start) has
# committed by then: each entry falls in exactly one tick's interval, and none is missed.
EVENT_SETTLE = timedelta(seconds=10)
# The first tick of a new sensor looks this far back for entries the consumer recorded.
FIRST_LOOK_BACK = timedelta(hours=1)
# An object still pending this long after its listing or its last failed GET gets another run.
PENDING_RETRY_AFTER = timedelta(minutes=15)
MAX_RETRY_DAYS_PER_TICK = 5


@dataclass(frozen=True)
class DiscoveryCursor:
    start_after: str = ""  # the reconciliation resumes after this key ("" = from the start of sessions/)
    passes: int = 0  # completed reconciliation passes over the bucket
    found_this_pass: int = 0  # new objects the reconciliation recorded in the current pass
    found_last_pass: int | None = None  # ... in the last complete pass: what the notifications missed
    events_until: str | None = None  # consumer-recorded entries up to this time (ISO) have been requested

    def dump(self) -> str:
        return json.dumps(self.__dict__, separators=(",", ":"))

    @classmethod
    def load(cls, text: str | None) -> DiscoveryCursor:
        if not text:
            return cls()
        data = json.loads(text)
        # A cursor of the listing-only sensor (start_after, passes, in_flight) resumes where it was.
        return cls(
            start_after=str(data.get("start_after", "")),
            passes=int(data.get("passes", 0)),
            found_this_pass=int(data.get("found_this_pass", 0)),
            found_last_pass=data.get("found_last_pass"),
            events_until=data.get("events_until"),
        )


@dataclass(frozen=True)
class DayRequest:
    day: date
    objects: int  # new or changed ledger entries of the day behind this request
    run_key: str
    source: str  # "reconciliation" or "events"


@dataclass
class DiscoveryPlan:
    cursor: DiscoveryCursor
    requests: list[DayRequest] = field(default_factory=list)
    listed: int = 0  # metadata objects in this tick's slice of the listing
    pages: int = 0  # LIST requests made
    new: int = 0  # of those, new to the ledger (the notifications, if on, missed them)
    changed: int = 0  # a new version of a known object
    from_events: int = 0  # entries the consumer recorded since the last tick
    future: int = 0  # stamped after today (a clock ahead of ours): a later run loads them
    outside_partitions: list[ObjectInfo] = field(default_factory=list)  # uploaded before the first partition

    def summary(self) -> str:
        days = ", ".join(f"{r.day}: {r.objects} ({r.source})" for r in self.requests) or "none"
        position = self.cursor.start_after or "the start (pass complete)"
        text = (
            f"reconciliation listed {self.listed} metadata objects in {self.pages} page(s): {self.new} new, "
            f"{self.changed} changed; notifications recorded {self.from_events}; requested {len(self.requests)} "
            f"run(s) ({days}); next slice after {position}; pass {self.cursor.passes}"
        )
        if self.cursor.found_last_pass is not None:
            text += f" (the last full pass found {self.cursor.found_last_pass} new)"
        if self.future:
            text += f"; {self.future} stamped in the future"
        if self.outside_partitions:
            text += f"; {len(self.outside_partitions)} uploaded before the first partition"
        return text


def _run_key(prefix: str, day: date, objects: Iterable[tuple[str, str]]) -> str:
    """Deterministic: the same entries give the same key, so a replayed tick launches nothing twice."""
    names = "\n".join(sorted(f"{key}\0{etag}" for key, etag in objects))
    return f"{prefix}:{day.isoformat()}:{hashlib.sha1(names.encode()).hexdigest()[:16]}"


def _request_days(
    plan: DiscoveryPlan, infos: Iterable[ObjectInfo], first_day: date, last_day: date, source: str, prefix: str
) -> None:
    """One run request per partition day of `infos` (ledger entries); days outside the partitions
    are counted in the plan instead."""
    by_day: dict[date, list[ObjectInfo]] = defaultdict(list)
    for info in infos:
        day = info.last_modified.astimezone(UTC).date()
        if day < first_day:
            plan.outside_partitions.append(info)
        elif day > last_day:
            plan.future += 1  # pending in the ledger: pending_retries requests it once its day exists
        else:
            by_day[day].append(info)
    for day, day_infos in sorted(by_day.items()):
        run_key = _run_key(prefix, day, [(i.key, i.etag) for i in day_infos])
        plan.requests.append(DayRequest(day, len(day_infos), run_key, source))


def reconcile_slice(
    conn: psycopg.Connection,
    s3,
    bucket: str,
    cursor: DiscoveryCursor,
    *,
    first_day: date,
    last_day: date,
    pages: int = DEFAULT_RECONCILE_PAGES_PER_TICK,
) -> DiscoveryPlan:
    """List the next `pages` pages after the cursor, record them in the ledger, request their days."""
    plan = DiscoveryPlan(cursor=cursor)
    if pages <= 0:
        return plan
    listing = list_slice(s3, bucket, cursor.start_after, pages)
    recorded = record_listed(conn, listing.objects, listed_by=LISTED_BY_LISTING)
    plan.listed, plan.pages = len(listing.objects), listing.pages
    plan.new, plan.changed = recorded.new, recorded.changed
    _request_days(plan, recorded.recorded, first_day, last_day, "reconciliation", "listed")
    found = cursor.found_this_pass + recorded.new
    if listing.reached_end:
        plan.cursor = replace(plan.cursor, start_after="", passes=cursor.passes + 1, found_this_pass=0, found_last_pass=found)
    else:
        plan.cursor = replace(plan.cursor, start_after=listing.last_key or cursor.start_after, found_this_pass=found)
    return plan


def event_requests(
    conn: psycopg.Connection, plan: DiscoveryPlan, *, first_day: date, last_day: date, settle: timedelta = EVENT_SETTLE
) -> DiscoveryPlan:
    """Request a run for each upload day that the consumer recorded entries for since the last tick."""
    with conn.cursor() as cur:
        until = scalar(cur.execute("SELECT now() - %s::interval", (settle,)))
        since = datetime.fromisoformat(plan.cursor.events_until) if plan.cursor.events_until else until - FIRST_LOOK_BACK
        cur.execute(read_sql("ingest/ledger/listed_by_events.sql"), {"since": since, "until": until})
        infos = [ObjectInfo(*row) for row in cur.fetchall()]
    plan.from_events = len(infos)
    _request_days(plan, infos, first_day, last_day, "events", "events")
    plan.cursor = replace(plan.cursor, events_until=until.isoformat())
    return plan


def discover(
    conn: psycopg.Connection,
    s3,
    bucket: str,
    cursor: DiscoveryCursor,
    *,
    first_day: date,
    last_day: date,
    pages: int = DEFAULT_RECONCILE_PAGES_PER_TICK,
    events: bool = False,
) -> DiscoveryPlan:
    """One sensor tick: the next slice of the reconciliation, then (with notifications on) the
    entries the consumer recorded; one run request per upload day and source."""
    plan = reconcile_slice(conn, s3, bucket, cursor, first_day=first_day, last_day=last_day, pages=pages)
    if events:
        plan = event_requests(conn, plan, first_day=first_day, last_day=last_day)
    return plan


@dataclass
class ReconcilePass:
    listed: int = 0
    pages: int = 0
    new: int = 0
    changed: int = 0


def reconcile_all(conn: psycopg.Connection, s3, bucket: str, pages: int = 100) -> ReconcilePass:
    """A whole reconciliation pass at once (a fresh install's backlog, the demo, tests, benchmarks)."""
    totals = ReconcilePass()
    cursor = DiscoveryCursor()
    while True:
        plan = reconcile_slice(conn, s3, bucket, cursor, first_day=date.min, last_day=date.max, pages=pages)
        totals.listed += plan.listed
        totals.pages += plan.pages
        totals.new += plan.new
        totals.changed += plan.changed
        if plan.cursor.passes > cursor.passes:
            return totals
        cursor = plan.cursor


@dataclass(frozen=True)
class RetryRequest:
    day: date
    objects: int  # pending objects of the day
    attempts: int  # the most failed attempts among them so far
    run_key: str


def pending_retries(
    conn,
    *,
    now: datetime,
    first_day: date,
    last_day: date,
    retry_after: timedelta = PENDING_RETRY_AFTER,
    max_days: int = MAX_RETRY_DAYS_PER_TICK,
) -> list[RetryRequest]:
    """Upload days (partitions) whose objects are still pending `retry_after` after their listing or
    last failed GET: one run request each, oldest first, at most `max_days`.

    The run key changes every `retry_after`, so a day still pending is requested again then, and a
    replayed tick within that time launches nothing twice.
    """
    params = {
        "older_than": now - retry_after,
        "first": datetime.combine(first_day, time(0), tzinfo=UTC),
        "after_last": datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=UTC),
        "max_days": max_days,
    }
    with conn.cursor() as cur:
        cur.execute(read_sql("ingest/ledger/days_with_stale_pending.sql"), params)
        rows = cur.fetchall()
    slot = int(now.timestamp()) // max(1, int(retry_after.total_seconds()))
    return [RetryRequest(day, objects, attempts, f"retry:{day.isoformat()}:{slot}") for day, objects, attempts in rows]


def main(argv: list[str] | None = None) -> int:
    """`heimdall-reconcile`: one whole reconciliation pass now (a fresh install beside a bucket with
    history, or after notifications were down): every metadata object recorded in the ledger."""
    from heimdall_pipeline.core.db import DatabaseConnectionError, connect
    from heimdall_pipeline.core.object_store import describe_error, s3_client_from_settings
    from heimdall_pipeline.core.settings import Settings, exit_on_config_error

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--pages", type=int, default=100, help="LIST pages per ledger transaction (1,000 keys each)")
    args = parser.parse_args(argv)
    with exit_on_config_error("heimdall-reconcile"):
        settings = Settings.from_env()
    try:
        with connect(settings.database_url) as conn:
            found = reconcile_all(conn, s3_client_from_settings(settings), settings.s3_bucket, pages=max(1, args.pages))
    except DatabaseConnectionError as error:
        print(f"heimdall-reconcile: {error}", file=sys.stderr)
        return 1
    except Exception as error:  # the store refused or is unreachable: one line, no secret
        print(f"heimdall-reconcile: listing s3://{settings.s3_bucket} failed: {describe_error(error)}", file=sys.stderr)
        return 1
    print(
        f"reconciled s3://{settings.s3_bucket}/sessions/: {found.listed} metadata objects in {found.pages} LIST "
        f"pages; {found.new} new and {found.changed} changed recorded as pending (the sensor requests their runs)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
