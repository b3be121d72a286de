"""`make bench`, second part: upload → queryable row, the library call against the launched run,
and the same with object notifications on.

The same N metadata objects (heimdall_pipeline.devtools.sample_data) are loaded two ways, interleaved,
--repeat times, and the medians printed:

  library   ingest.ingest_window for the upload day (list, ledger, GET, parse, validate, load) in
            this process, into a fresh migrated database, from a fresh bucket holding only them
  launched  the deployment topology (scripts/serve.sh up: code server, webserver, daemon on a
            PostgreSQL Dagster instance of its own, with the repository's dagster.yaml): the objects
            are PUT into its bucket, new_metadata_objects_sensor requests an ingest_job run, the
            daemon dequeues and launches it, the run loads; timed from the last PUT to the moment
            all rows answer a query, and broken down from the run's event log:
              tick      last PUT → run created (waiting for the sensor's next tick + evaluation)
              queued    run created → the daemon launches it (RUN_STARTING)
              starting  RUN_STARTING → RUN_START (worker process start, code location import)
              running   RUN_START → RUN_SUCCESS, and each step's own time
              rows      last PUT → every row queryable (polled every 0.1 s)

Then, with notifications (--event-repeat acquisitions of --event-objects, default 20 × 7): a second
topology whose bucket notifies an SQS queue of the S3 server (S3 → SQS, as on AWS), with the consumer
`heimdall-events` beside the daemon and the sensor's reconciliation off
(HEIMDALL_RECONCILE_PAGES_PER_TICK=0), so nothing in it lists the bucket. Each acquisition is timed
from its last PUT until all its rows answer a query (polled every 20 ms); at the end the script waits
for the runs the sensor requested for those entries (`heimdall/discovered_by=events`) to succeed.

Everything is on loopback (the `make up` TimescaleDB and S3 server); the databases, the buckets,
the queue and the processes are the script's own and are removed at the end. --timeout bounds each
launched repetition; the script stops by itself.

The last line printed is machine-readable:
  upload_to_row_s=<x> run_s=<x> library_s=<x> launched_vs_library=<x> sensor_interval_s=<x>
  events_upload_to_row_s=<median> events_upload_to_row_p95_s=<x> events_runs=<n>
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))  # run as a script: bench/ helpers import as top-level modules

import psycopg  # noqa: E402
from stack import Timer, _with_database, fresh_bucket, fresh_database, median  # noqa: E402

from heimdall_pipeline.core.db import connect  # noqa: E402
from heimdall_pipeline.core.object_store import s3_client_from_settings  # noqa: E402
from heimdall_pipeline.core.settings import Settings  # noqa: E402
from heimdall_pipeline.devtools.sample_data import SampleObject, generate_day, upload  # noqa: E402
from heimdall_pipeline.ingest.uploads import ingest_window  # noqa: E402

SERVE = str(ROOT / "scripts" / "serve.sh")
SENSOR = "new_metadata_objects_sensor"
STEP_EVENTS = ("STEP_START", "STEP_SUCCESS")


def log(message: str) -> None:
    print(f"[upload→row {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def objects_for(repetition: int, count: int) -> list[SampleObject]:
    """`count` metadata objects of today (measured up to now), new task ids each repetition."""
    now = datetime.now(UTC)
    sessions = count // 7 + 1
    objects = generate_day(now.date(), sessions=sessions, seed=10_000 + repetition, miss_rate=0.0, until=now)
    return objects[:count]


def task_ids(objects: list[SampleObject]) -> list[str]:
    return sorted({obj.key.split("/")[1] for obj in objects})


def rows_of_tasks(url: str, tasks: list[str]) -> int:
    with connect(url, autocommit=False) as conn:
        return conn.execute("SELECT count(*) FROM measurements WHERE task_id = ANY(%s)", (tasks,)).fetchone()[0]


def today_window() -> tuple[datetime, datetime]:
    start = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return start, start + timedelta(days=1)


# --- library --------------------------------------------------------------------------------------


def run_library(settings: Settings, admin_url: str, objects: list[SampleObject]) -> tuple[float, int]:
    s3 = s3_client_from_settings(settings)
    with fresh_bucket(s3, "u2r-lib") as bucket, fresh_database(admin_url, "u2r_lib") as url:
        upload(s3, bucket, objects)
        with connect(url, autocommit=False) as conn, Timer() as timer:
            listing, result = ingest_window(conn, s3, bucket, *today_window())
        if result.failed or result.inserted + result.rejected != len(objects):
            raise RuntimeError(
                f"library load incomplete: {listing}, {result.inserted} inserted, "
                f"{result.rejected} rejected, {result.failed} failed"
            )
        return timer.seconds, result.inserted


# --- launched -------------------------------------------------------------------------------------


class Topology:
    """scripts/serve.sh's three processes on a Dagster instance, database and bucket of their own."""

    def __init__(
        self, admin_url: str, settings: Settings, work: Path, events: bool = False, extra_env: dict[str, str] | None = None
    ):
        self.admin_url, self.settings, self.work, self.events = admin_url, settings, work, events
        self.extra_env = dict(extra_env or {})  # more settings for the three processes
        self.queue_url = None
        self.suffix = uuid.uuid4().hex[:8]
        self.heimdall_db, self.dagster_db = f"heimdall_bench_u2r_{self.suffix}", f"dagster_bench_u2r_{self.suffix}"
        self.database_url = _with_database(admin_url, self.heimdall_db)
        self.s3 = s3_client_from_settings(settings)
        self.bucket = f"heimdall-bench-u2r-{self.suffix}"
        self.instance = None

    def __enter__(self) -> Topology:
        from heimdall_pipeline.schema.migrations import migrate

        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            for name in (self.heimdall_db, self.dagster_db):
                admin.execute(f'CREATE DATABASE "{name}"')
        migrate(self.database_url, schema=self.settings.db_schema)
        self.s3.create_bucket(Bucket=self.bucket)
        home = self.work / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").symlink_to(ROOT / "dagster.yaml")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("HEIMDALL_", "DAGSTER_"))}
        self.env.update(
            HEIMDALL_DATABASE_URL=self.database_url,
            HEIMDALL_S3_ENDPOINT_URL=self.settings.s3_endpoint_url,
            HEIMDALL_S3_BUCKET=self.bucket,
            HEIMDALL_DB_SCHEMA=self.settings.db_schema,  # the topology's processes use the schema migrated here
            DAGSTER_HOME=str(home),
            DAGSTER_POSTGRES_URL=_with_database(self.admin_url, self.dagster_db),
            HEIMDALL_SERVE_STATE=str(self.work / "state"),
            HEIMDALL_SERVE_ENVFILE=str(self.work / "env"),
        )
        self.env.update(self.extra_env)
        if self.events:
            from heimdall_pipeline.devtools.notifications import configure_sqs_notifications

            self.queue_url = configure_sqs_notifications(self.s3, self._sqs(), self.bucket, f"u2r-{self.suffix}")
            self.env.update(
                HEIMDALL_EVENTS_SQS_QUEUE_URL=self.queue_url,
                HEIMDALL_EVENTS_SQS_ENDPOINT_URL=self.settings.s3_endpoint_url,
                HEIMDALL_RECONCILE_PAGES_PER_TICK="0",  # nothing lists: every run comes from a notification
            )
        try:
            self._serve("up", timeout=400)
            os.environ["DAGSTER_POSTGRES_URL"] = self.env["DAGSTER_POSTGRES_URL"]
            from dagster import DagsterInstance

            self.instance = DagsterInstance.from_config(str(home))
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _sqs(self):
        from heimdall_pipeline.devtools.notifications import sqs_client

        s = self.settings
        return sqs_client(s.s3_endpoint_url, s.aws_region, s.aws_access_key_id, s.aws_secret_access_key)

    def _serve(self, command: str, timeout: float) -> None:
        done = subprocess.run([SERVE, command], env=self.env, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"serve.sh {command} failed:\n{done.stdout}\n{done.stderr}")

    def __exit__(self, *exc) -> None:
        with contextlib.suppress(Exception):
            self._serve("down", timeout=120)
        if self.instance is not None:
            self.instance.dispose()
        with psycopg.connect(self.admin_url, autocommit=True) as admin:
            for name in (self.heimdall_db, self.dagster_db):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if self.queue_url:
            with contextlib.suppress(Exception):
                self._sqs().delete_queue(QueueUrl=self.queue_url)
        with contextlib.suppress(Exception):
            keys = [
                {"Key": o["Key"]}
                for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket)
                for o in page.get("Contents", ())
            ]
            for i in range(0, len(keys), 1000):
                self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": keys[i : i + 1000]})
            self.s3.delete_bucket(Bucket=self.bucket)

    def sensor_runs(self, **tags: str) -> set[str]:
        from dagster import RunsFilter
        from dagster._core.storage.tags import SENSOR_NAME_TAG

        filters = RunsFilter(tags={SENSOR_NAME_TAG: SENSOR, **tags})
        return {run.run_id for run in self.instance.get_runs(filters=filters)}

    def event_once(self, objects: list[SampleObject], timeout: float) -> float:
        """PUT one acquisition; seconds from its last PUT until all its rows answer a query."""
        tasks = task_ids(objects)
        upload(self.s3, self.bucket, objects)
        uploaded = time.time()
        deadline = time.monotonic() + timeout
        while rows_of_tasks(self.database_url, tasks) < len(objects):
            if time.monotonic() > deadline:
                raise RuntimeError(f"notifications: no rows after {timeout:.0f} s (see {self.work}/state/events.log)")
            time.sleep(0.02)
        return time.time() - uploaded

    def wait_event_runs(self, timeout: float) -> int:
        """The runs the sensor requested for the consumer's entries: at least one, all succeeded."""
        from dagster import DagsterRunStatus

        deadline = time.monotonic() + timeout
        while True:
            runs = [self.instance.get_run_by_id(r) for r in self.sensor_runs(**{"heimdall/discovered_by": "events"})]
            if runs and all(r.status == DagsterRunStatus.SUCCESS for r in runs):
                return len(runs)
            failed = [r.run_id for r in runs if r.status in (DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED)]
            if failed:
                raise RuntimeError(f"notification runs ended badly: {failed}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"notification runs not all succeeded after {timeout:.0f} s: {len(runs)} run(s)")
            time.sleep(0.5)

    def tick_seconds(self) -> list[float]:
        """How long each finished tick of the sensor took (listing slice, ledger, run requests)."""
        states = [s for s in self.instance.all_instigator_state() if s.instigator_name == SENSOR]
        return [
            tick.end_timestamp - tick.timestamp
            for state in states
            for tick in self.instance.get_ticks(state.instigator_origin_id, state.selector_id)
            if tick.end_timestamp
        ]

    def run_once(self, objects: list[SampleObject], expected_rows: int, timeout: float) -> dict:
        """PUT the objects, wait for their rows, and break the wait down from the run's events."""
        from dagster import DagsterRunStatus

        tasks = task_ids(objects)
        before = self.sensor_runs()
        upload(self.s3, self.bucket, objects)
        uploaded = time.time()
        deadline = time.monotonic() + timeout
        rows_at = None
        while rows_at is None:
            if rows_of_tasks(self.database_url, tasks) >= expected_rows:
                rows_at = time.time()
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"no rows after {timeout:.0f} s (sensor runs: {self.sensor_runs() - before})")
            time.sleep(0.1)
        # The rows are in; the run finishes its last steps (hourly aggregate, checks).
        new_runs = self.sensor_runs() - before
        if len(new_runs) != 1:
            raise RuntimeError(f"expected one new sensor run, got {len(new_runs)}")
        run_id = new_runs.pop()
        while True:
            status = self.instance.get_run_by_id(run_id).status
            if status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"run {run_id} not finished after {timeout:.0f} s")
            time.sleep(0.1)
        if status != DagsterRunStatus.SUCCESS:
            raise RuntimeError(f"run {run_id} ended {status.value}")
        return breakdown(self.instance, run_id, uploaded, rows_at)


def run_breakdown(instance, run_id: str) -> dict:
    """A finished run from its record and event log: queued (created → RUN_STARTING), starting
    (→ RUN_START), running (→ RUN_SUCCESS), run (created → RUN_SUCCESS), each step's own time, and
    `created` / `success` (epoch seconds) and the ENGINE_EVENT messages, for callers that need more."""
    record = instance.get_run_record_by_id(run_id)
    created = record.create_timestamp.timestamp()
    events: dict[str, float] = {}
    steps: dict[str, dict[str, float]] = {}
    engine: list[str] = []
    for entry in instance.all_logs(run_id):
        if entry.dagster_event is None:
            continue
        kind = entry.dagster_event.event_type_value
        events.setdefault(kind, entry.timestamp)
        if kind in STEP_EVENTS and entry.step_key:
            steps.setdefault(entry.step_key, {})[kind] = entry.timestamp
        if kind == "ENGINE_EVENT":
            engine.append(entry.message or "")
    starting, start, success = events["PIPELINE_STARTING"], events["PIPELINE_START"], events["PIPELINE_SUCCESS"]
    return {
        "run_id": run_id,
        "created": created,
        "success": success,
        "queued": starting - created,
        "starting": start - starting,
        "running": success - start,
        "run": success - created,
        "steps": {
            key: s["STEP_SUCCESS"] - s["STEP_START"] for key, s in steps.items() if "STEP_START" in s and "STEP_SUCCESS" in s
        },
        "engine_events": engine,
    }


def breakdown(instance, run_id: str, uploaded: float, rows_at: float) -> dict:
    run = run_breakdown(instance, run_id)
    return {
        "run_id": run_id,
        "upload_to_row": rows_at - uploaded,
        "upload_to_run_success": run["success"] - uploaded,
        "tick": run["created"] - uploaded,
        **{part: run[part] for part in ("queued", "starting", "running", "run", "steps")},
    }


# --- report ---------------------------------------------------------------------------------------


def _fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.3f}"


def percentile(values: list[float], share: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)]


def report(
    objects: int,
    library: list[float],
    launched: list[dict],
    interval: int,
    ticks: list[float],
    events: list[float],
    event_objects: int,
    event_runs: int,
) -> dict:
    def med(name: str) -> float:
        return median([r[name] for r in launched])

    step_keys = list(dict.fromkeys(key for r in launched for key in r["steps"]))  # in run order
    summary = {
        "objects": objects,
        "sensor_interval_s": interval,
        "library_s": median(library),
        "library_runs": library,
        "sensor_tick_s": median(ticks),
        "sensor_ticks": len(ticks),
        "launched": launched,
        "medians": {
            name: med(name) for name in ("upload_to_row", "upload_to_run_success", "tick", "queued", "starting", "running", "run")
        },
        "step_medians": {key: median([r["steps"][key] for r in launched if key in r["steps"]]) for key in step_keys},
    }
    m = summary["medians"]
    summary["launched_vs_library"] = m["upload_to_row"] / summary["library_s"] if summary["library_s"] else math.nan
    summary["run_vs_library"] = m["run"] / summary["library_s"] if summary["library_s"] else math.nan

    print(f"\nupload → row, {objects} objects, median of {len(launched)} (sensor interval {interval} s)")
    print(f"  library   ingest_window in-process                 {summary['library_s']:>8.3f} s")
    print(
        f"  launched  last PUT → all rows queryable             {m['upload_to_row']:>8.3f} s"
        f"   ({summary['launched_vs_library']:.1f}x the library call)"
    )
    print(f"            last PUT → run succeeded                  {m['upload_to_run_success']:>8.3f} s")
    print(f"    tick      PUT → run created by the sensor          {m['tick']:>8.3f} s   (0 … {interval} s by design)")
    print(f"      (a tick itself takes {summary['sensor_tick_s']:.3f} s, median of {len(ticks)})")
    print(f"    queued    created → launched by the daemon         {m['queued']:>8.3f} s")
    print(f"    starting  launched → worker running (import)       {m['starting']:>8.3f} s")
    print(f"    running   RUN_START → RUN_SUCCESS                  {m['running']:>8.3f} s")
    for key, value in summary["step_medians"].items():
        print(f"      {key:<48} {value:>8.3f} s")
    print(
        f"    run       created → succeeded (the run itself)     {m['run']:>8.3f} s"
        f"   ({summary['run_vs_library']:.1f}x the library call)"
    )
    summary["events"] = {
        "objects": event_objects,
        "upload_to_row": events,
        "median": median(events),
        "p95": percentile(events, 0.95),
        "runs": event_runs,
    }
    e = summary["events"]
    print(f"  notifications (S3 → SQS → heimdall-events), {len(events)} acquisitions of {event_objects} objects:")
    print(
        f"            last PUT → all rows queryable             {e['median']:>8.3f} s median, "
        f"{e['p95']:.3f} s p95 (max {max(events, default=math.nan):.3f} s); "
        f"{event_runs} sensor run(s) from them, all succeeded"
    )
    print(
        f"upload_to_row_s={_fmt(m['upload_to_row'])} run_s={_fmt(m['run'])} library_s={_fmt(summary['library_s'])} "
        f"launched_vs_library={_fmt(summary['launched_vs_library'])} sensor_interval_s={interval} "
        f"events_upload_to_row_s={_fmt(e['median'])} events_upload_to_row_p95_s={_fmt(e['p95'])} "
        f"events_runs={event_runs}",
        flush=True,
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=100, help="metadata objects per upload")
    parser.add_argument("--repeat", type=int, default=3, help="repetitions (medians reported)")
    parser.add_argument(
        "--timeout", type=float, default=0, help="seconds per launched repetition (default: two sensor intervals + 120)"
    )
    parser.add_argument("--event-objects", type=int, default=7, help="metadata objects per acquisition (notifications)")
    parser.add_argument("--event-repeat", type=int, default=20, help="acquisitions timed with notifications on")
    parser.add_argument("--json-out", help="write all timings as JSON here")
    args = parser.parse_args(argv)

    from heimdall_pipeline.defs.ingest.sensors import SENSOR_INTERVAL_SECONDS

    timeout = args.timeout or 2 * SENSOR_INTERVAL_SECONDS + 120
    settings = Settings.from_env()
    admin_url = settings.database_url
    library: list[float] = []
    launched: list[dict] = []
    ticks: list[float] = []
    work = Path(tempfile.mkdtemp(prefix="heimdall-bench-u2r-"))
    try:
        log("starting the topology (scripts/serve.sh up)")
        with Topology(admin_url, settings, work) as topology:
            log("topology up")
            for repetition in range(args.repeat):
                objects = objects_for(repetition, args.objects)
                seconds, rows = run_library(settings, admin_url, objects)
                library.append(seconds)
                log(f"#{repetition + 1} library {seconds:.3f} s ({rows} rows)")
                result = topology.run_once(objects, rows, timeout)
                launched.append(result)
                ticks = topology.tick_seconds()
                log(
                    f"#{repetition + 1} launched: upload→row {result['upload_to_row']:.1f} s, "
                    f"run {result['run']:.1f} s (tick wait {result['tick']:.1f} s)"
                )
        events: list[float] = []
        event_runs = 0
        if args.event_repeat:
            events_work = work / "events"
            events_work.mkdir()
            log("starting the topology with notifications (S3 → SQS, heimdall-events)")
            with Topology(admin_url, settings, events_work, events=True) as topology:
                for repetition in range(args.event_repeat):
                    objects = objects_for(1_000 + repetition, args.event_objects)
                    seconds = topology.event_once(objects, timeout)
                    events.append(seconds)
                    log(f"#{repetition + 1} notifications: upload→row {seconds:.3f} s")
                    time.sleep(0.5)  # acquisitions arrive apart, not in one burst
                event_runs = topology.wait_event_runs(timeout)
                log(f"{event_runs} sensor run(s) for the notified objects succeeded")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = report(args.objects, library, launched, SENSOR_INTERVAL_SECONDS, ticks, events, args.event_objects, event_runs)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
