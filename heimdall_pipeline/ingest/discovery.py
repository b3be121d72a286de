"""Finding metadata objects that have not been loaded yet, tick after tick, without missing one.

Keys are random UUIDs, so neither "after the last key" nor "after the last LastModified" can tell
what is new: an upload may land behind the last key, and its LastModified may be older than what
was already seen (clock skew between S3 nodes, a slow multipart upload is stamped when it started).
So the ledger, not a cursor, decides what is new: each tick lists the next slice of `sessions/`
in key order (at most `max_pages` LIST requests of 1,000 keys), asks the ledger about the slice's
keys in one query, and requests the objects the ledger does not have with that ETag. The cursor
holds where the scan resumes and the objects requested but not yet in the ledger (`in_flight`),
so the work and the cursor are bounded per tick however large the bucket; a full pass over a
bucket of N objects takes N / (1,000 × max_pages) ticks, and every object is seen on every pass.

Objects the ledger has but that are still pending (their run failed, their GET failed after its
retries) are not new: `pending_retries` finds the upload days that still hold such objects after
PENDING_RETRY_AFTER and requests one more run for each, a bounded number of days per tick; each
run counts an attempt per failed object, and after DEFAULT_MAX_LOAD_ATTEMPTS the object is 'failed'.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from heimdall_pipeline.core.db import read_sql
from heimdall_pipeline.ingest.ledger import ledger_entries
from heimdall_pipeline.core.object_store import ObjectInfo, ledger_key, list_slice

DEFAULT_MAX_PAGES_PER_TICK = 10  # 10 LIST requests: 10,000 keys a tick
DEFAULT_MAX_OBJECTS_PER_TICK = 2_000
DEFAULT_MAX_IN_FLIGHT = 5_000  # objects requested but not yet in the ledger; bounds the cursor
# A requested object still not in the ledger after this long (its run failed or never ran) is
# requested again, in a run with a new run key.
DEFAULT_IN_FLIGHT_TIMEOUT = timedelta(hours=2)
# An object still pending this long after its listing or its last failed GET gets another run.
PENDING_RETRY_AFTER = timedelta(minutes=15)
MAX_RETRY_DAYS_PER_TICK = 5


def object_digest(info: ObjectInfo) -> str:
    """A short stable name of (key, ETag): 12 hex digits; 5,000 with their request times are ~130 kB."""
    return hashlib.sha1(f"{ledger_key(info.key)}\0{info.etag}".encode()).hexdigest()[:12]


@dataclass(frozen=True)
class ScanCursor:
    start_after: str = ""  # the scan resumes after this key ("" = from the start of sessions/)
    passes: int = 0  # completed passes over the bucket
    in_flight: dict[str, int] = field(default_factory=dict)  # digest -> when requested (epoch seconds)

    def dump(self) -> str:
        return json.dumps(
            {"start_after": self.start_after, "passes": self.passes, "in_flight": dict(sorted(self.in_flight.items()))},
            separators=(",", ":"),
        )

    @classmethod
    def load(cls, text: str | None) -> "ScanCursor":
        if not text:
            return cls()
        data = json.loads(text)
        return cls(data.get("start_after", ""), int(data.get("passes", 0)), dict(data.get("in_flight", {})))


@dataclass(frozen=True)
class DayRequest:
    day: date
    objects: tuple[ObjectInfo, ...]
    run_key: str


def day_run_key(day: date, objects: list[ObjectInfo], previous_requests: dict[str, int]) -> str:
    """Deterministic: the same objects, with the same earlier (timed-out) requests, give the same key,
    so a replayed tick never launches a second run, while a re-request after a timeout gets a new key."""
    names = sorted(f"{object_digest(o)}:{previous_requests.get(object_digest(o), 0)}" for o in objects)
    return f"{day.isoformat()}:{hashlib.sha1(chr(10).join(names).encode()).hexdigest()[:16]}"


@dataclass
class DiscoveryPlan:
    cursor: ScanCursor
    requests: list[DayRequest] = field(default_factory=list)
    scanned: int = 0  # metadata objects in this tick's slice
    known: int = 0  # of those, in the ledger with the same ETag
    in_flight: int = 0  # requested by an earlier tick, not yet in the ledger
    new: int = 0  # neither known nor in flight: requested now
    deferred: int = 0  # objects of the slice left for the next tick (per-tick or in-flight cap)
    future: int = 0  # stamped after today (a clock ahead of ours): left for a later pass
    expired: int = 0  # requests forgotten after the timeout (their objects count as new again)
    outside_partitions: list[ObjectInfo] = field(default_factory=list)  # uploaded before the first partition

    @property
    def requested(self) -> int:
        return sum(len(r.objects) for r in self.requests)

    def summary(self) -> str:
        days = ", ".join(f"{r.day}: {len(r.objects)}" for r in self.requests) or "none"
        position = self.cursor.start_after or "the start (pass complete)"
        text = (
            f"scanned {self.scanned} metadata objects: {self.known} already in the ledger, "
            f"{self.in_flight} in flight, {self.new} new; requested in {len(self.requests)} run(s) ({days}); "
            f"{self.deferred} left for the next tick, {self.future} stamped in the future; "
            f"{self.expired} requests timed out; "
            f"next tick resumes after {position}; pass {self.cursor.passes}"
        )
        if self.outside_partitions:
            text += f"; ignored {len(self.outside_partitions)} uploaded before the first partition"
        return text


def plan_discovery(
    scanned: list[ObjectInfo],
    ledger: dict[str, tuple[str, str]],
    cursor: ScanCursor,
    *,
    slice_end: str | None,
    reached_end: bool,
    now: datetime,
    first_day: date,
    last_day: date,
    max_objects: int = DEFAULT_MAX_OBJECTS_PER_TICK,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    in_flight_timeout: timedelta = DEFAULT_IN_FLIGHT_TIMEOUT,
) -> DiscoveryPlan:
    """Decide one tick from a slice of the listing (key order) and the ledger's `{key: (etag, status)}`.

    Days before `first_day` are not partitions (ignored, reported); an object stamped after
    `last_day` (a clock ahead of ours) is left for a later pass, once its day is a partition.
    """
    plan = DiscoveryPlan(cursor=cursor, scanned=len(scanned))
    now_seconds = int(now.timestamp())
    timeout = int(in_flight_timeout.total_seconds())
    # Requests older than the timeout are forgotten: if the object is still not in the ledger, it
    # is new again (its run failed or never ran), and its run key changes with the earlier request.
    in_flight = {digest: at for digest, at in cursor.in_flight.items() if at > now_seconds - timeout}
    timed_out = {digest: at for digest, at in cursor.in_flight.items() if digest not in in_flight}
    plan.expired = len(timed_out)
    budget = max(0, min(max_objects, max_in_flight - len(in_flight)))
    chosen: list[ObjectInfo] = []
    resume_after = slice_end
    for index, info in enumerate(scanned):
        entry = ledger.get(info.key)
        digest = object_digest(info)
        # 'missing': GET said NoSuchKey after an earlier listing; listed again, it is back: new.
        if entry is not None and entry[0] == info.etag and entry[1] != "missing":
            plan.known += 1
            in_flight.pop(digest, None)
            continue
        if digest in in_flight:
            plan.in_flight += 1
            continue
        if info.last_modified.date() < first_day:
            plan.outside_partitions.append(info)
            continue
        if info.last_modified.date() > last_day:
            plan.future += 1  # a clock ahead of ours: a later pass requests it once its day exists
            continue
        if len(chosen) >= budget:
            # Stop here; the next tick resumes just before this object.
            resume_after = scanned[index - 1].key if index else cursor.start_after
            plan.deferred = len(scanned) - index
            break
        chosen.append(info)
    plan.new = len(chosen)

    by_day: dict[date, list[ObjectInfo]] = defaultdict(list)
    for info in chosen:
        by_day[info.last_modified.date()].append(info)
        in_flight[object_digest(info)] = now_seconds
    plan.requests = [
        DayRequest(day, tuple(objects), day_run_key(day, objects, timed_out)) for day, objects in sorted(by_day.items())
    ]

    finished_pass = reached_end and not plan.deferred
    plan.cursor = ScanCursor(
        start_after="" if finished_pass else (resume_after or cursor.start_after),
        passes=cursor.passes + 1 if finished_pass else cursor.passes,
        in_flight=in_flight,
    )
    return plan


def discover(
    conn,
    s3,
    bucket: str,
    cursor: ScanCursor,
    *,
    now: datetime,
    first_day: date,
    last_day: date,
    max_pages: int = DEFAULT_MAX_PAGES_PER_TICK,
    max_objects: int = DEFAULT_MAX_OBJECTS_PER_TICK,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
    in_flight_timeout: timedelta = DEFAULT_IN_FLIGHT_TIMEOUT,
) -> DiscoveryPlan:
    """One tick: list the next slice of `sessions/`, ask the ledger about it, plan the requests."""
    listing = list_slice(s3, bucket, cursor.start_after, max_pages)
    return plan_discovery(
        listing.objects,
        ledger_entries(conn, [o.key for o in listing.objects]),
        cursor,
        slice_end=listing.last_key,
        reached_end=listing.reached_end,
        now=now,
        first_day=first_day,
        last_day=last_day,
        max_objects=max_objects,
        max_in_flight=max_in_flight,
        in_flight_timeout=in_flight_timeout,
    )


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
        "first": datetime.combine(first_day, time(0), tzinfo=timezone.utc),
        "after_last": datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=timezone.utc),
        "max_days": max_days,
    }
    with conn.cursor() as cur:
        cur.execute(read_sql("ingest/ledger/days_with_stale_pending.sql"), params)
        rows = cur.fetchall()
    slot = int(now.timestamp()) // max(1, int(retry_after.total_seconds()))
    return [RetryRequest(day, objects, attempts, f"retry:{day.isoformat()}:{slot}") for day, objects, attempts in rows]
