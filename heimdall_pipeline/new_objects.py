"""Finding metadata objects that have not been loaded yet, tick after tick, without missing one.

Keys are random UUIDs, so "after the last key" says nothing about time. A tick lists `sessions/`
(S3 lists in key order: the whole prefix, ~1 LIST request per 1,000 keys), keeps objects whose
LastModified is at or after `watermark - skew`, drops those the ledger already has with the same
ETag and those requested by an earlier tick whose run has not recorded them yet (`in_flight`),
and requests the oldest of the rest, at most `max_objects` per tick. The watermark only moves up
to the oldest object not yet requested, so a capped tick resumes where it stopped; the skew
window catches objects whose LastModified is a little older than what was already seen (clock
skew between S3 nodes, an upload that started earlier than it finished).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from heimdall_pipeline.ledger_queries import ledger_entries
from heimdall_pipeline.object_store import ObjectInfo, iter_metadata_objects

DEFAULT_SKEW = timedelta(minutes=15)
DEFAULT_MAX_OBJECTS_PER_TICK = 2_000
DEFAULT_MAX_IN_FLIGHT = 5_000  # objects requested but not yet in the ledger; bounds the cursor


def object_digest(info: ObjectInfo) -> str:
    """A short stable name of (key, ETag): 12 hex digits, so 5,000 of them fit in ~75 kB."""
    return hashlib.sha1(f"{info.key}\0{info.etag}".encode()).hexdigest()[:12]


@dataclass(frozen=True)
class DiscoveryCursor:
    watermark: datetime | None = None  # LastModified up to which every object was requested or known
    in_flight: frozenset[str] = frozenset()  # digests requested, not yet seen in the ledger

    def dump(self) -> str:
        return json.dumps(
            {
                "watermark": self.watermark.isoformat() if self.watermark else None,
                "in_flight": sorted(self.in_flight),
            },
            separators=(",", ":"),
        )

    @classmethod
    def load(cls, text: str | None) -> "DiscoveryCursor":
        if not text:
            return cls()
        data = json.loads(text)
        watermark = datetime.fromisoformat(data["watermark"]) if data.get("watermark") else None
        return cls(watermark, frozenset(data.get("in_flight", ())))


@dataclass(frozen=True)
class DayRequest:
    day: date
    objects: tuple[ObjectInfo, ...]

    @property
    def run_key(self) -> str:
        """Deterministic: the same objects for the same day always give the same run key."""
        digest = hashlib.sha1("\n".join(sorted(object_digest(o) for o in self.objects)).encode()).hexdigest()
        return f"{self.day.isoformat()}:{digest[:16]}"


@dataclass
class DiscoveryPlan:
    cursor: DiscoveryCursor
    requests: list[DayRequest] = field(default_factory=list)
    listed: int = 0  # metadata objects in the listing
    candidates: int = 0  # of those, at or after watermark - skew
    known: int = 0  # candidates the ledger has with the same ETag
    in_flight: int = 0  # candidates requested by an earlier tick, not yet in the ledger
    new: int = 0  # candidates neither known nor in flight
    deferred: int = 0  # new objects left for a later tick (per-tick cap or in-flight cap)
    outside_partitions: list[ObjectInfo] = field(default_factory=list)  # uploaded before the first partition

    @property
    def requested(self) -> int:
        return sum(len(r.objects) for r in self.requests)

    def summary(self) -> str:
        days = ", ".join(f"{r.day}: {len(r.objects)}" for r in self.requests) or "none"
        text = (
            f"listed {self.listed} metadata objects, {self.candidates} since watermark-skew; "
            f"{self.known} already in the ledger, {self.in_flight} in flight, {self.new} new; "
            f"requested {self.requested} in {len(self.requests)} run(s) ({days}); deferred {self.deferred}; "
            f"watermark {self.cursor.watermark.isoformat() if self.cursor.watermark else 'none'}"
        )
        if self.outside_partitions:
            text += f"; ignored {len(self.outside_partitions)} uploaded before the first partition"
        return text


def plan_discovery(
    listing: list[ObjectInfo],
    ledger: dict[str, tuple[str, str]],
    cursor: DiscoveryCursor,
    *,
    first_day: date,
    last_day: date,
    skew: timedelta = DEFAULT_SKEW,
    max_objects: int = DEFAULT_MAX_OBJECTS_PER_TICK,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
) -> DiscoveryPlan:
    """Decide one tick from the listing (objects at or after watermark - skew) and the ledger's
    `{key: (etag, status)}` of those objects. Days outside [first_day, last_day] are not partitions:
    earlier ones are ignored (reported), later ones (a clock ahead of ours) wait for their day."""
    plan = DiscoveryPlan(cursor=cursor, listed=len(listing))
    floor = cursor.watermark - skew if cursor.watermark else None
    candidates = [o for o in listing if floor is None or o.last_modified >= floor]
    plan.candidates = len(candidates)

    still_in_flight: set[str] = set()
    new: list[ObjectInfo] = []
    settled: list[ObjectInfo] = []  # known or in flight: need no request
    for info in candidates:
        entry = ledger.get(info.key)
        if entry is not None and entry[0] == info.etag:
            plan.known += 1
            settled.append(info)
            continue
        digest = object_digest(info)
        if digest in cursor.in_flight:
            plan.in_flight += 1
            still_in_flight.add(digest)
            settled.append(info)
            continue
        if info.last_modified.date() < first_day:
            plan.outside_partitions.append(info)
            settled.append(info)
            continue
        new.append(info)
    plan.new = len(new)

    new.sort(key=lambda o: (o.last_modified, o.key))
    budget = max(0, min(max_objects, max_in_flight - len(still_in_flight)))
    chosen: list[ObjectInfo] = []
    for info in new:
        if len(chosen) >= budget or info.last_modified.date() > last_day:
            break
        chosen.append(info)
    plan.deferred = len(new) - len(chosen)
    blocked_at = new[len(chosen)].last_modified if plan.deferred else None

    by_day: dict[date, list[ObjectInfo]] = defaultdict(list)
    for info in chosen:
        by_day[info.last_modified.date()].append(info)
    plan.requests = [DayRequest(day, tuple(objects)) for day, objects in sorted(by_day.items())]

    # Advance over everything settled or requested, never past the oldest object left for later.
    covered = [o.last_modified for o in settled + chosen if blocked_at is None or o.last_modified <= blocked_at]
    watermark = max(covered, default=cursor.watermark)
    if cursor.watermark is not None and watermark < cursor.watermark:
        watermark = cursor.watermark
    plan.cursor = DiscoveryCursor(watermark, frozenset(still_in_flight | {object_digest(o) for o in chosen}))
    return plan


def discover(
    conn,
    s3,
    bucket: str,
    cursor: DiscoveryCursor,
    *,
    first_day: date,
    last_day: date,
    skew: timedelta = DEFAULT_SKEW,
    max_objects: int = DEFAULT_MAX_OBJECTS_PER_TICK,
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT,
) -> DiscoveryPlan:
    """One tick: list `sessions/`, ask the ledger about the objects since watermark - skew, plan."""
    listing = list(iter_metadata_objects(s3, bucket))
    floor = cursor.watermark - skew if cursor.watermark else None
    recent = [o.key for o in listing if floor is None or o.last_modified >= floor]
    return plan_discovery(
        listing,
        ledger_entries(conn, recent),
        cursor,
        first_day=first_day,
        last_day=last_day,
        skew=skew,
        max_objects=max_objects,
        max_in_flight=max_in_flight,
    )
