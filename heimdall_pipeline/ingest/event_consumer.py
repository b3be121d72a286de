"""`heimdall-events`: the consumer that turns notifications into ledger entries and rows, in seconds.

Each round takes a batch of notifications (long-polling SQS, or reading MinIO's table), records
what they say in the ledger (events.apply_events), keeps the dropped ones with their reason, and
only then acknowledges the batch. It then loads the new objects' upload days right away, under
the same per-day lock the Dagster runs take, so rows are queryable within seconds of the upload
instead of after the sensor's next tick and a run. The Dagster sensor still requests a run for
each of those days (its checks, hourly aggregates and materialization), which finds the objects
already loaded. A day whose lock a run holds is left to that run and tried again next round.

Plain Python with no Dagster import, like the Celery worker: it runs as its own process beside
the daemon (`make serve` starts it when notifications are configured).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import date, timedelta

import psycopg

from heimdall_pipeline.core.db import DatabaseConnectionError, connect
from heimdall_pipeline.core.locks import LockWaitTimeout, advisory_locks
from heimdall_pipeline.core.object_store import describe_error, s3_client_from_settings
from heimdall_pipeline.core.settings import ConfigError, EventSettings, Settings, exit_on_config_error, redact
from heimdall_pipeline.ingest.event_sources import EventSource, MinioEventTable, SqsQueue
from heimdall_pipeline.ingest.events import AppliedEvents, apply_events, parse_body, record_dropped
from heimdall_pipeline.ingest.uploads import IngestResult, load_pending, upload_day_bounds, upload_day_lock

logger = logging.getLogger(__name__)

DEFAULT_BATCH = 100  # notifications per round
LOCK_WAIT = timedelta(seconds=2)  # a run holding the day loads it anyway; don't queue behind it


@dataclass
class RoundResult:
    notifications: int = 0
    events: int = 0
    ignored: int = 0
    dropped: int = 0
    applied: AppliedEvents = field(default_factory=AppliedEvents)
    loaded: dict[date, IngestResult] = field(default_factory=dict)
    deferred: set[date] = field(default_factory=set)  # days whose lock a run held

    def summary(self) -> str:
        a = self.applied
        inserted = sum(r.inserted for r in self.loaded.values())
        return (
            f"{self.notifications} notifications: {self.events} events ({a.new} new, {a.changed} changed, "
            f"{a.unchanged} already known, {a.gone} already gone, {a.removed} removed), {self.ignored} ignored, "
            f"{self.dropped} dropped; loaded {len(self.loaded)} day(s), {inserted} rows inserted; "
            f"{len(self.deferred)} day(s) left to a run holding its lock"
        )


def load_days(
    conn: psycopg.Connection, s3, bucket: str, days: set[date], **options
) -> tuple[dict[date, IngestResult], set[date]]:
    """Load each day's pending objects, unless a run holds the day (then it is returned as deferred)."""
    loaded: dict[date, IngestResult] = {}
    deferred: set[date] = set()
    for day in sorted(days):
        try:
            with advisory_locks(conn, [upload_day_lock(day)], wait=LOCK_WAIT, log=logger):
                loaded[day] = load_pending(conn, s3, bucket, *upload_day_bounds(day), **options)
        except LockWaitTimeout:
            deferred.add(day)
    return loaded, deferred


def consume_round(
    conn: psycopg.Connection,
    s3,
    bucket: str,
    source: EventSource,
    *,
    max_messages: int = DEFAULT_BATCH,
    wait_seconds: float = 1.0,
    load: bool = True,
    retry_days: set[date] | None = None,
    **load_options,
) -> RoundResult:
    """One round: receive, record in the ledger, keep the dropped, acknowledge, load the days."""
    result = RoundResult()
    deliveries = source.receive(max_messages, wait_seconds)
    result.notifications = len(deliveries)
    events, dropped = [], []
    for delivery in deliveries:
        parsed = parse_body(delivery.body, bucket)
        events += parsed.events
        dropped += parsed.dropped
        result.ignored += parsed.ignored
    result.events = len(events)
    if events:
        result.applied = apply_events(conn, s3, bucket, events)
    result.dropped = record_dropped(conn, source.name, dropped)
    for drop in dropped:
        logger.warning("dropped a notification from %s: %s", source.name, drop.reason)
    source.ack(deliveries)  # only now: the ledger holds what they said
    days = result.applied.days | (retry_days or set())
    if load and days:
        result.loaded, result.deferred = load_days(conn, s3, bucket, days, **load_options)
    return result


def build_source(settings: EventSettings, conn: psycopg.Connection, s3_settings: Settings) -> EventSource:
    if settings.sqs_queue_url:
        import boto3

        sqs = boto3.client(
            "sqs",
            endpoint_url=settings.sqs_endpoint_url,
            region_name=s3_settings.aws_region,
            aws_access_key_id=s3_settings.aws_access_key_id,
            aws_secret_access_key=s3_settings.aws_secret_access_key,
        )
        return SqsQueue(sqs, settings.sqs_queue_url)
    return MinioEventTable(conn)


def run(settings: Settings, events: EventSettings, *, once: bool = False, idle_sleep: float = 0.5) -> int:
    """Consume until SIGTERM/SIGINT (or one round with `once`)."""
    stopping = False

    def stop(signum, frame) -> None:  # signal handler signature
        nonlocal stopping
        stopping = True

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return _consume_until_stopped(settings, events, once, idle_sleep, lambda: stopping)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _consume_until_stopped(settings: Settings, events: EventSettings, once: bool, idle_sleep: float, stopping) -> int:
    s3 = s3_client_from_settings(settings)
    try:
        conn = connect(settings.database_url)
    except DatabaseConnectionError as error:  # one line, password masked; a supervisor restarts us
        print(f"heimdall-events: {error}", file=sys.stderr)
        return 1
    source = build_source(events, conn, settings)
    logger.info("consuming %s for bucket %s", source.name, settings.s3_bucket)
    deferred: set[date] = set()
    while not stopping():
        try:
            result = consume_round(conn, s3, settings.s3_bucket, source, retry_days=deferred, wait_seconds=1.0)
        except Exception as error:  # a long-running consumer outlives a bad moment
            # The database, the store or the queue failed (a refused HEAD, an unreachable endpoint):
            # nothing was acknowledged, so it all comes back on a later round.
            logger.warning("round failed, retrying in 2 s: %s", redact(describe_error(error), settings.database_url))
            time.sleep(2)
            if conn.closed or isinstance(error, psycopg.Error):
                conn = _reconnect(conn, settings)
            source = build_source(events, conn, settings)
            continue
        deferred = result.deferred
        if result.notifications or result.loaded:
            logger.info(result.summary())
        if once:
            break
        if not result.notifications and isinstance(source, MinioEventTable):
            time.sleep(idle_sleep)
    conn.close()
    return 0


def _reconnect(conn: psycopg.Connection, settings: Settings) -> psycopg.Connection:
    try:
        conn.close()
    except Exception:  # the old connection is being replaced either way
        pass
    while True:
        try:
            return connect(settings.database_url)
        except psycopg.OperationalError as error:
            logger.warning("cannot reconnect, retrying in 2 s: %s", str(error).splitlines()[0][:300])
            time.sleep(2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Consume S3/MinIO object notifications into the ingest ledger and load new objects at once."
    )
    parser.add_argument("--once", action="store_true", help="one round, then exit")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with exit_on_config_error("heimdall-events"):
        settings = Settings.from_env()
        events = EventSettings.from_env()
        if not events.enabled:
            raise ConfigError(
                "no notification source: set HEIMDALL_EVENTS_SQS_QUEUE_URL (AWS S3 → SQS) or "
                "HEIMDALL_EVENTS_MINIO_TABLE=on (MinIO's PostgreSQL target) (docs/operating.md)"
            )
    return run(settings, events, once=args.once)


if __name__ == "__main__":
    sys.exit(main())
