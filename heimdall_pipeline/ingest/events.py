"""S3 event notifications (AWS S3 → SQS, MinIO's targets) turned into ledger entries.

Delivery is at least once and may reorder, so an event is a hint, never the truth: for a created
object the store is asked (HEAD) for the object's current ETag, size and LastModified, and that is
what the ledger records, exactly as a listing would. A duplicate or late event then changes
nothing, an event for a version already replaced records the newer one, and an object deleted
before its event arrived is not recorded. A removal marks the entry `missing`, unless the ledger
holds a version uploaded after the removal.

Anything else is dropped with a reason and counted, never fatal: a body that is not JSON, a record
without its fields, another bucket, a key outside `sessions/`. Objects that are not metadata (the
`.npy` recordings) are ignored: they are Heimdall's, just not ours to load.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from urllib.parse import unquote_plus

import psycopg

from heimdall_pipeline.core.db import read_sql
from heimdall_pipeline.core.object_store import (
    DEFAULT_CONCURRENCY,
    METADATA_SUFFIX,
    SESSIONS_PREFIX,
    head_object,
    ledger_key,
)
from heimdall_pipeline.ingest.loader import LISTED_BY_EVENTS, record_listed

CREATED, REMOVED = "created", "removed"
# An SQS message holds at most 256 KiB; MinIO's table rows are its own. A body over this is not an
# S3 notification, and parsing it would only cost memory.
MAX_BODY_BYTES = 1024 * 1024
MAX_RECORDS_PER_BODY = 1_000
MAX_EXCERPT_CHARS = 200


@dataclass(frozen=True)
class ObjectEvent:
    kind: str  # CREATED or REMOVED
    key: str  # decoded: S3 and MinIO URL-encode keys in records (a space arrives as '+')
    event_time: datetime
    etag: str | None = None
    size_bytes: int | None = None


@dataclass(frozen=True)
class DroppedEvent:
    reason: str
    excerpt: str  # the start of what was dropped, for whoever reads the reason


@dataclass
class ParsedBody:
    events: list[ObjectEvent] = field(default_factory=list)
    dropped: list[DroppedEvent] = field(default_factory=list)
    ignored: int = 0  # records for objects that are not metadata (recordings), or test events


def _excerpt(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)[: MAX_EXCERPT_CHARS * 2]
    return text[:MAX_EXCERPT_CHARS]


def _event_time(text) -> datetime:
    if not isinstance(text, str):
        raise ValueError("eventTime is not a string")
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_record(record, bucket: str) -> ObjectEvent | DroppedEvent | None:
    """One record of a notification: an event, a drop with its reason, or None (not ours to load)."""
    if not isinstance(record, Mapping):
        return DroppedEvent("malformed: a record that is not an object", _excerpt(record))
    name = record.get("eventName")
    s3 = record.get("s3")
    if not isinstance(name, str) or not isinstance(s3, Mapping):
        return DroppedEvent("malformed: a record without eventName and s3", _excerpt(record))
    # AWS writes "ObjectCreated:Put", MinIO "s3:ObjectCreated:Put".
    kind_name = name.removeprefix("s3:")
    if kind_name.startswith("ObjectCreated:"):
        kind = CREATED
    elif kind_name.startswith("ObjectRemoved:"):
        kind = REMOVED
    else:
        return DroppedEvent(f"unsupported event {name[:60]!r}", _excerpt(record))
    record_bucket = (s3.get("bucket") or {}).get("name") if isinstance(s3.get("bucket"), Mapping) else None
    if record_bucket != bucket:
        return DroppedEvent(f"another bucket: {str(record_bucket)[:80]!r}, not {bucket!r}", _excerpt(record))
    obj = s3.get("object")
    if not isinstance(obj, Mapping) or not isinstance(obj.get("key"), str) or not obj["key"]:
        return DroppedEvent("malformed: no s3.object.key", _excerpt(record))
    key = unquote_plus(obj["key"])
    try:
        event_time = _event_time(record.get("eventTime"))
    except ValueError:
        return DroppedEvent("malformed: eventTime is not an ISO 8601 time", _excerpt(record))
    if not key.startswith(SESSIONS_PREFIX):
        return DroppedEvent(f"outside {SESSIONS_PREFIX}: {key[:120]!r}", _excerpt(record))
    if not key.endswith(METADATA_SUFFIX):
        return None
    etag = obj.get("eTag")
    size = obj.get("size")
    return ObjectEvent(
        kind,
        key,
        event_time,
        etag.strip('"') if isinstance(etag, str) else None,
        size if isinstance(size, int) and not isinstance(size, bool) else None,
    )


def parse_body(body: bytes | str | Mapping, bucket: str) -> ParsedBody:
    """A notification as delivered: an S3 event message (`{"Records": [...]}`) from SQS, the same
    wrapped in an SNS envelope, MinIO's webhook/queue message or a row of its PostgreSQL target
    (both carry `Records`), or S3's `s3:TestEvent` (ignored)."""
    parsed = ParsedBody()
    data = body
    if isinstance(body, (bytes, str)):
        if len(body) > MAX_BODY_BYTES:
            parsed.dropped.append(DroppedEvent(f"malformed: a body of {len(body):,} bytes, over {MAX_BODY_BYTES:,}", ""))
            return parsed
        try:
            data = json.loads(body)
        except (ValueError, RecursionError) as error:
            text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
            parsed.dropped.append(DroppedEvent(f"malformed: not JSON ({str(error)[:80]})", _excerpt(text)))
            return parsed
    if isinstance(data, Mapping) and data.get("Type") == "Notification" and isinstance(data.get("Message"), str):
        return parse_body(data["Message"], bucket)  # SNS → SQS fan-out
    if isinstance(data, Mapping) and data.get("Event") == "s3:TestEvent":
        parsed.ignored += 1  # S3 sends one when the notification is configured
        return parsed
    records = data.get("Records") if isinstance(data, Mapping) else None
    if not isinstance(records, list):
        parsed.dropped.append(DroppedEvent("malformed: no Records list", _excerpt(data)))
        return parsed
    if len(records) > MAX_RECORDS_PER_BODY:
        parsed.dropped.append(DroppedEvent(f"malformed: {len(records):,} records, over {MAX_RECORDS_PER_BODY:,}", ""))
        return parsed
    for record in records:
        outcome = parse_record(record, bucket)
        if outcome is None:
            parsed.ignored += 1
        elif isinstance(outcome, DroppedEvent):
            parsed.dropped.append(outcome)
        else:
            parsed.events.append(outcome)
    return parsed


@dataclass
class AppliedEvents:
    created: int = 0  # distinct created keys asked about
    new: int = 0  # recorded as new ledger entries (pending)
    changed: int = 0  # a new version of a known object (pending again)
    unchanged: int = 0  # duplicate or late events: the ledger already had that version
    gone: int = 0  # deleted before its created event was handled: nothing recorded
    removed: int = 0  # entries marked missing by a removal
    removed_ignored: int = 0  # removals of an unknown key, or older than the ledger's version
    days: set[date] = field(default_factory=set)  # upload days that got new or changed entries


def _latest_per_key(events: Iterable[ObjectEvent]) -> dict[str, ObjectEvent]:
    latest: dict[str, ObjectEvent] = {}
    for event in events:
        if event.key not in latest or event.event_time >= latest[event.key].event_time:
            latest[event.key] = event
    return latest


def apply_events(
    conn: psycopg.Connection, s3, bucket: str, events: Iterable[ObjectEvent], concurrency: int = DEFAULT_CONCURRENCY
) -> AppliedEvents:
    """Record what the events say in the ledger, the store's answer deciding. A HEAD that fails
    raises: the caller keeps the notification and it comes back (at least once)."""
    events = list(events)
    applied = AppliedEvents()
    created = _latest_per_key(e for e in events if e.kind == CREATED)
    applied.created = len(created)
    if created:
        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(created))), thread_name_prefix="s3-head") as pool:
            current = list(pool.map(lambda key: head_object(s3, bucket, key), created))
        found = [info for info in current if info is not None]
        applied.gone = len(current) - len(found)
        if found:
            listing = record_listed(conn, found, listed_by=LISTED_BY_EVENTS)
            applied.new, applied.changed, applied.unchanged = listing.new, listing.changed, listing.unchanged
            applied.days |= {info.last_modified.astimezone(UTC).date() for info in listing.recorded}
    removed = _latest_per_key(e for e in events if e.kind == REMOVED)
    if removed:
        applied.removed = record_removed(conn, removed.values())
        applied.removed_ignored = len(removed) - applied.removed
    return applied


def record_removed(conn: psycopg.Connection, removals: Iterable[ObjectEvent]) -> int:
    """Mark ledger entries `missing` for removal events newer than the version the ledger holds."""
    removals = list(removals)
    params = {
        "keys": [ledger_key(r.key) for r in removals],
        "times": [r.event_time for r in removals],
    }
    with conn.transaction(), conn.cursor() as cur:
        cur.execute(read_sql("ingest/events/record_removed.sql"), params)
        return cur.rowcount


def record_dropped(conn: psycopg.Connection, source: str, dropped: Iterable[DroppedEvent]) -> int:
    """Keep dropped notifications with their reason (s3_event_drops), so each is accounted for."""
    rows = [(source, d.reason[:300], d.excerpt[:MAX_EXCERPT_CHARS].replace("\x00", "\\0")) for d in dropped]
    if rows:
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(read_sql("ingest/events/record_drop.sql"), rows)
    return len(rows)
