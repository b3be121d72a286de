"""`make bench`, third part: what the pipeline costs as the bucket's history grows (issue [scale]).

One bucket grows through --sizes (default 10,000,100,000,1,000,000 keys): half metadata objects, half
small placeholder recordings, in Heimdall's layout (sessions/<task>/websdr_<n>_metadata.json and
_iq.npy), uploaded over earlier days, with the ledger and `measurements` holding that history as
real operation would. At each size, with S3 → SQS notifications on (the S3 server is the producer):

  run        wall time of a partition run (the ingest chain with its checks, in a process of its
             own) that loads --new-objects objects uploaded today, recorded by their notifications
  discovery  last PUT of a 7-object acquisition → all its rows queryable, with `heimdall-events`
             running (median of --acquisitions)
  tick       one evaluation of new_metadata_objects_sensor (its reconciliation slice of
             HEIMDALL_RECONCILE_PAGES_PER_TICK pages, the consumer's entries, the retries), median of 3
  rss        peak RSS of our processes (the run, the sensor's process, the consumer), the largest

The S3 server is moto's, in this process (history is stored into its backend directly: PUTs over
HTTP would take hours at a million keys; the history's objects are then frozen out of the garbage
collector, which would otherwise pause the server for seconds at a million keys); the new objects go
over HTTP so that S3 sends their notifications. Its RSS is reported apart; it is not ours.

The last line: run_ratio=<x> discovery_ratio=<x> tick_ratio=<x> rss_ratio=<x> tick_ours_ratio=<x>, each
the value at the largest size over the value at the smallest (goal: each ≤ 1.2). moto answers a LIST
page by sorting the whole bucket (0.25 s a page at 10,000 keys, 1 s at 300,000), which a real store
does not; the tick is also split into the time spent waiting for LIST pages and the rest (ours), and
tick_ours_ratio is the ratio of the latter.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import math
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))


from memory_probe import rss_mb
from stack import fresh_database, median

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.core.object_store import head_object, make_s3_client
from heimdall_pipeline.core.settings import Settings
from heimdall_pipeline.devtools.notifications import configure_sqs_notifications, sqs_client
from heimdall_pipeline.devtools.sample_data import generate_day, upload
from heimdall_pipeline.ingest.event_consumer import consume_round
from heimdall_pipeline.ingest.event_sources import SqsQueue
from heimdall_pipeline.ingest.loader import record_listed

KEYS_PER_DAY = 14_000  # seven receivers, two objects each, 1,000 acquisitions a day
HISTORY_BODY = b'{"history": true}'
ACCESS = ("heimdall", "heimdall-secret")


def log(message: str) -> None:
    print(f"[scale {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class History:
    """The bucket's and the database's past, grown to a number of keys."""

    def __init__(self, database_url: str, bucket: str):
        from moto.s3.models import s3_backends

        self.backend = s3_backends["123456789012"]["aws"]
        self.database_url, self.bucket = database_url, bucket
        self.keys = 0
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.etag = None

    def grow_to(self, keys: int) -> None:
        """Add acquisitions (7 metadata objects + 7 recordings each), newest first, going back in time."""
        ledger_rows, measurement_rows = [], []
        # History was notified long ago: no notification for it now (moto would queue one per key).
        stored_bucket = self.backend.buckets[self.bucket]
        notifications, stored_bucket.notification_configuration = stored_bucket.notification_configuration, None
        while self.keys < keys:
            index = self.keys // 14
            task = f"{uuid.UUID(int=index + 1)}"
            # Spread over earlier days at KEYS_PER_DAY, from yesterday backwards.
            at = self.now - timedelta(days=1, seconds=index * 86_400 * 14 / KEYS_PER_DAY)
            for receiver in range(1, 8):
                for suffix in ("metadata.json", "iq.npy"):
                    key = f"sessions/{task}/websdr_{receiver}_{suffix}"
                    stored = self.backend.put_object(self.bucket, key, HISTORY_BODY)
                    stored.last_modified = at.replace(tzinfo=None)
                    self.etag = stored.etag.strip('"')
                    self.keys += 1
                    if suffix == "metadata.json":
                        ledger_rows.append((key, self.etag, len(HISTORY_BODY), at, task, receiver, at))
                        measurement_rows.append((task, receiver, at))
        stored_bucket.notification_configuration = notifications
        with connect(self.database_url) as conn, conn.transaction(), conn.cursor() as cur:
            with cur.copy(
                "COPY ingest_ledger (object_key, etag, size_bytes, last_modified, task_id, websdr_id, "
                "timestamp_utc, status, processed_at) FROM STDIN"
            ) as copy:
                for row in ledger_rows:
                    copy.write_row((*row, "loaded", row[3]))
            with cur.copy(
                "COPY measurements (task_id, websdr_id, frequency_mhz, sample_rate_khz, samples_count, "
                "timestamp_utc, snr_db, frequency_offset_hz, power_dbm) FROM STDIN"
            ) as copy:
                for task, receiver, at in measurement_rows:
                    copy.write_row((task, receiver, 145.5, 12.5, 125000, at, 12.0, 3.0, -80.0))
        with connect(self.database_url) as conn:
            conn.execute("ANALYZE ingest_ledger")
            conn.execute("ANALYZE measurements")
        # moto keeps the history as millions of Python objects in this process: without this, every
        # full garbage collection walks them all (seconds at a million keys) and stalls the S3
        # server's answers, a pause no real store has. They are never freed, so the GC may skip them.
        gc.collect()
        gc.freeze()

    def middle_key(self) -> str:
        return f"sessions/{uuid.UUID(int=max(1, self.keys // 28))}/"


def probe(step: str, env: dict, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(BENCH_DIR / "scale_probe.py"), step, *args], env=env, capture_output=True, text=True, timeout=1800
    )
    if done.returncode != 0:
        raise RuntimeError(f"scale_probe {step} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def rows_of_tasks(url: str, tasks: list[str]) -> int:
    with connect(url, autocommit=False) as conn:
        return conn.execute("SELECT count(*) FROM measurements WHERE task_id = ANY(%s)", (tasks,)).fetchone()[0]


def peak_rss_of(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return math.nan


def measure(size: int, history: History, s3, source: SqsQueue, env: dict, args) -> dict:
    database_url, bucket = history.database_url, history.bucket
    today = datetime.now(UTC).date()
    result: dict = {"keys": size}

    # The sensor's tick, in the middle of a reconciliation pass.
    ticked = probe("tick", env, "--cursor-key", history.middle_key(), "--ticks", "3")
    result["tick_s"], result["tick_rss_mb"] = median(ticked["seconds"]), ticked["peak_rss_mb"]
    result["tick_list_s"] = median(ticked["list_seconds"])  # waiting for the store's LIST pages
    result["tick_ours_s"] = median([t - w for t, w in zip(ticked["seconds"], ticked["list_seconds"])])
    result["tick_list_requests"] = ticked["list_requests"]

    # A partition run for today's new objects, recorded in the ledger by their notifications.
    new = generate_day(today, sessions=args.new_objects // 5 + 2, seed=7 * size + 1, miss_rate=0.0, until=datetime.now(UTC))[
        : args.new_objects
    ]
    upload(s3, bucket, new)
    recorded, empty_rounds = 0, 0
    with connect(database_url) as conn:
        while recorded < len(new) and empty_rounds < 10:  # moto's SQS can answer empty while it has more
            round_ = consume_round(conn, s3, bucket, source, load=False, wait_seconds=1)
            recorded += round_.applied.new
            empty_rounds = 0 if round_.notifications else empty_rounds + 1
        # What no notification recorded (moto's SQS has lost a message now and then at this load): the
        # reconciliation would find it; here it is recorded at once so the run has its 700 objects.
        known = {
            key
            for (key,) in conn.execute(
                "SELECT object_key FROM ingest_ledger WHERE object_key = ANY(%s)", ([o.key for o in new],)
            ).fetchall()
        }
        lost = [o for o in new if o.key not in known]
        if lost:
            record_listed(conn, [head_object(s3, bucket, o.key) for o in lost])
            log(f"{len(lost)} of {len(new)} notifications lost at {size} keys: {[o.key for o in lost][:3]}")
    result["notifications_lost"] = len(lost)
    ran = probe("run", env, "--partition", today.isoformat())
    with connect(database_url) as conn:
        outcomes = dict(
            conn.execute(
                "SELECT status || coalesce(': ' || left(reason, 60), ''), count(*) FROM ingest_ledger "
                "WHERE object_key = ANY(%s) GROUP BY 1",
                ([o.key for o in new],),
            ).fetchall()
        )
    if not ran["success"] or sum(outcomes.values()) != len(new) or "pending" in outcomes:
        raise RuntimeError(f"partition run at {size} keys: {ran}, ledger {outcomes}")
    result["run_outcomes"] = outcomes
    result.update(
        run_s=ran["seconds"], run_rss_mb=ran["peak_rss_mb"], run_list_requests=ran["list_requests"], run_objects=len(new)
    )

    # Discovery: the consumer running, acquisitions of 7 arriving one by one.
    consumer = subprocess.Popen(
        [str(Path(sys.executable).parent / "heimdall-events")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)  # imported and polling
        latencies = []
        for repetition in range(args.acquisitions):
            acquisition = generate_day(
                today, sessions=2, seed=10**9 + size * 100 + repetition, miss_rate=0.0, until=datetime.now(UTC)
            )[:7]
            tasks = sorted({o.key.split("/")[1] for o in acquisition})
            upload(s3, bucket, acquisition)
            uploaded = time.perf_counter()
            deadline = uploaded + 120
            while rows_of_tasks(database_url, tasks) < len(acquisition):
                if time.perf_counter() > deadline:
                    raise RuntimeError(f"no rows 120 s after the upload at {size} keys")
                time.sleep(0.02)
            latencies.append(time.perf_counter() - uploaded)
            time.sleep(0.5)
        result["discovery_s"], result["discovery_runs"] = median(latencies), latencies
        result["consumer_rss_mb"] = peak_rss_of(consumer.pid)
    finally:
        consumer.send_signal(signal.SIGTERM)
        try:
            consumer.wait(timeout=20)
        except subprocess.TimeoutExpired:
            consumer.kill()
    result["rss_mb"] = max(result["tick_rss_mb"], result["run_rss_mb"], result["consumer_rss_mb"])
    result["s3_server_rss_mb"] = rss_mb("VmRSS")  # this process: moto and the history it holds
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000", help="bucket sizes in keys, ascending")
    parser.add_argument("--new-objects", type=int, default=700, help="objects a partition run loads")
    parser.add_argument("--acquisitions", type=int, default=5, help="7-object acquisitions timed per size")
    parser.add_argument("--json-out", help="write all figures as JSON here")
    args = parser.parse_args(argv)
    sizes = sorted(int(s) for s in args.sizes.split(","))

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    settings = Settings.from_env()
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    s3 = make_s3_client(endpoint, "us-east-1", *ACCESS)
    sqs = sqs_client(endpoint, "us-east-1", *ACCESS)
    bucket = f"heimdall-bench-scale-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    queue_url = configure_sqs_notifications(s3, sqs, bucket, f"scale-{bucket}")
    results = []
    try:
        with fresh_database(settings.database_url, "scale") as database_url:
            env = {k: v for k, v in os.environ.items() if not k.startswith(("HEIMDALL_", "DAGSTER_"))}
            env.update(
                HEIMDALL_DATABASE_URL=database_url,
                HEIMDALL_S3_ENDPOINT_URL=endpoint,
                HEIMDALL_S3_BUCKET=bucket,
                HEIMDALL_DB_SCHEMA=settings.db_schema,
                HEIMDALL_EVENTS_SQS_QUEUE_URL=queue_url,
                HEIMDALL_EVENTS_SQS_ENDPOINT_URL=endpoint,
                AWS_ACCESS_KEY_ID=ACCESS[0],
                AWS_SECRET_ACCESS_KEY=ACCESS[1],
                AWS_REGION="us-east-1",
                PYTHONPATH=str(BENCH_DIR),
            )
            history = History(database_url, bucket)
            source = SqsQueue(sqs, queue_url)
            for size in sizes:
                started = time.perf_counter()
                history.grow_to(size)
                log(f"history at {history.keys:,} keys ({time.perf_counter() - started:.0f} s to grow)")
                results.append(measure(size, history, s3, source, env, args))
                log(json.dumps({k: v for k, v in results[-1].items() if k != "discovery_runs"}))
    finally:
        server.stop()

    print(
        f"\n| keys | partition run ({args.new_objects} new) | discovery, upload → rows | sensor tick "
        "(of it: waiting for LIST / ours) | peak RSS, ours | LIST requests: run / 3 ticks | S3 server RSS (moto) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        print(
            f"| {r['keys']:,} | {r['run_s']:.2f} s | {r['discovery_s']:.3f} s | {r['tick_s']:.3f} s "
            f"({r['tick_list_s']:.3f} / {r['tick_ours_s']:.3f} s) | {r['rss_mb']:.0f} MB | "
            f"{r['run_list_requests']} / {r['tick_list_requests']} | {r['s3_server_rss_mb']:.0f} MB |"
        )
    first, last = results[0], results[-1]
    ratios = {
        name: last[key] / first[key]
        for name, key in (
            ("run_ratio", "run_s"),
            ("discovery_ratio", "discovery_s"),
            ("tick_ratio", "tick_s"),
            ("rss_ratio", "rss_mb"),
            ("tick_ours_ratio", "tick_ours_s"),
        )
    }
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"results": results, "ratios": ratios}, indent=2))
    print(" ".join(f"{name}={value:.3f}" for name, value in ratios.items()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
