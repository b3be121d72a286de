"""A day materialized the way a person does it in the Dagster UI, against the sensor's own job.

The deployment topology of bench/upload_to_row.py (scripts/serve.sh up: code server, webserver,
daemon on a PostgreSQL Dagster instance of its own, with the repository's dagster.yaml), with the
sensor's reconciliation off (HEIMDALL_RECONCILE_PAGES_PER_TICK=0), so the run timed is the one
launched here, and iq_automation_sensor switched off (as its switch in the UI does), so no IQ run
of the loaded day shares the machine with the next measured run. Each repetition PUTs --objects
new metadata objects of today, records them in the ledger (what discovery does before any run),
and launches today's partition of the ingest chain (minio_metadata, measurements,
measurements_hourly, with their checks) one of three ways:

  asset_job  the UI's "Materialize all" with one partition, "Launch 1 run": launchPipelineExecution
             of Dagster's asset job (__ASSET_JOB) with the partition's tags, the assets and their
             checks, as the UI sends it (heimdall_pipeline.devtools.ui_launch)
  backfill   the same dialog launched as a backfill: launchPartitionBackfill, then the daemon's
             backfill loop submits the run (its wait for the loop is not part of the run)
  ingest_job ingest_job with the partition, as new_metadata_objects_sensor requests it (the reference)

The three ways are interleaved, --repeat times. For each run, from its record and its event log:
the executor that ran its steps, queued (created → RUN_STARTING), starting (→ RUN_START), running
(RUN_START → RUN_SUCCESS) and each step. Before each launch the queue is let drain (the IQ runs
that iq_automation_sensor would start after a load, with --attach), so no measured run shares the
machine with another.

--attach measures against processes already running instead (`make serve`'s, or a test's): the
webserver at HEIMDALL_DAGSTER_URL, the instance of DAGSTER_HOME, the database and bucket of the
HEIMDALL_* settings, into which it puts its objects of today; its sensors are left as they are.

The last line printed is machine-readable, medians of running (RUN_START → RUN_SUCCESS) in seconds:
  ui_launch_objects=<n> asset_job_running_s=<x> backfill_running_s=<x> ingest_job_running_s=<x> executors=<e>
"""

from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))  # run as a script: bench/ helpers import as top-level modules

from stack import median  # noqa: E402
from upload_to_row import Topology, rows_of_tasks, run_breakdown, task_ids  # noqa: E402

from heimdall_pipeline.core.db import connect  # noqa: E402
from heimdall_pipeline.core.settings import Settings  # noqa: E402
from heimdall_pipeline.devtools import ui_launch  # noqa: E402
from heimdall_pipeline.devtools.sample_data import SampleObject, generate_day, upload  # noqa: E402
from heimdall_pipeline.ingest.discovery import reconcile_all  # noqa: E402

PATHS = ("asset_job", "backfill", "ingest_job")
INGEST_ASSETS = ("minio_metadata", "measurements", "measurements_hourly")
LOCATION = "heimdall_pipeline"
IN_PROCESS = "Executing steps in process"
MULTIPROCESS = "Executing steps using multiprocess executor"
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")


def log(message: str) -> None:
    print(f"[ui-launch {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


SEED = random.SystemRandom().randrange(1 << 30)  # new task ids on every invocation, also in a bucket in use


def todays_objects(repetition: int, count: int) -> list[SampleObject]:
    """`count` metadata objects of today measured up to now (new task ids each repetition)."""
    now = datetime.now(UTC)
    sessions = count // 7 + 1
    while True:
        objects = generate_day(now.date(), sessions=sessions, seed=SEED + repetition, miss_rate=0.0, until=now)
        if len(objects) >= count:
            return objects[:count]
        sessions *= 2  # early in the UTC day, most sessions lie after `until`


def webserver_url(topology: Topology) -> str:
    env = dict(line.split("=", 1) for line in (topology.work / "env").read_text().splitlines() if "=" in line)
    return env["HEIMDALL_DAGSTER_URL"]


class Attached:
    """The running processes of this environment (--attach): what the measurement needs of a Topology."""

    def __init__(self, settings: Settings):
        import os

        from dagster import DagsterInstance

        from heimdall_pipeline.core.object_store import s3_client_from_settings

        self.url = os.environ.get("HEIMDALL_DAGSTER_URL") or sys.exit("--attach: HEIMDALL_DAGSTER_URL is not set")
        self.database_url, self.bucket = settings.database_url, settings.s3_bucket
        self.s3 = s3_client_from_settings(settings)
        self.instance = DagsterInstance.get()

    def __enter__(self) -> Attached:
        return self

    def __exit__(self, *exc) -> None:
        self.instance.dispose()


def wait_drained(topology: Topology, timeout: float) -> None:
    from dagster import DagsterRunStatus, RunsFilter

    in_flight = [
        DagsterRunStatus.QUEUED,
        DagsterRunStatus.NOT_STARTED,
        DagsterRunStatus.STARTING,
        DagsterRunStatus.STARTED,
        DagsterRunStatus.CANCELING,
    ]
    deadline = time.monotonic() + timeout
    while topology.instance.get_runs(filters=RunsFilter(statuses=in_flight)):
        if time.monotonic() > deadline:
            raise RuntimeError(f"runs still in flight after {timeout:.0f} s")
        time.sleep(0.5)


def launch(topology: Topology, url: str, path: str, day: str, timeout: float) -> str:
    """Launch today's partition `path`'s way; the run's id."""
    if path == "asset_job":
        return ui_launch.materialize_partition(url, INGEST_ASSETS, day)
    if path == "ingest_job":
        from dagster_graphql import DagsterGraphQLClient

        host, port = url.removeprefix("http://").rsplit(":", 1)
        client = DagsterGraphQLClient(host, port_number=int(port), timeout=60)
        return client.submit_job_execution("ingest_job", repository_location_name=LOCATION, tags={"dagster/partition": day})
    from dagster import RunsFilter

    backfill_id = ui_launch.launch_partition_backfill(url, INGEST_ASSETS, [day])
    deadline = time.monotonic() + timeout
    while not (runs := topology.instance.get_runs(filters=RunsFilter(tags={"dagster/backfill": backfill_id}))):
        if time.monotonic() > deadline:
            raise RuntimeError(f"backfill {backfill_id}: no run after {timeout:.0f} s")
        time.sleep(0.5)
    (run,) = runs  # one day, one run
    return run.run_id


def measure(instance, run_id: str, timeout: float) -> dict:
    """Wait for the run, then its breakdown and the executor that ran its steps."""
    deadline = time.monotonic() + timeout
    while (status := instance.get_run_by_id(run_id).status.value) not in FINISHED:
        if time.monotonic() > deadline:
            raise RuntimeError(f"run {run_id} not finished after {timeout:.0f} s")
        time.sleep(0.2)
    if status != "SUCCESS":
        raise RuntimeError(f"run {run_id} ended {status}")
    run = run_breakdown(instance, run_id)
    executors = {
        "in_process" if m.startswith(IN_PROCESS) else "multiprocess"
        for m in run.pop("engine_events")
        if m.startswith((IN_PROCESS, MULTIPROCESS))
    }
    dagster_run = instance.get_run_by_id(run_id)
    keep = ("heimdall/", "dagster/partition", "dagster/backfill", "dagster/asset_partition")
    return {
        **{part: run[part] for part in ("run_id", "queued", "starting", "running", "run", "steps")},
        "job": dagster_run.job_name,
        "tags": {k: v for k, v in dagster_run.tags.items() if k.startswith(keep)},
        "executor": "+".join(sorted(executors)) or "unknown",
    }


def report(objects: int, results: dict[str, list[dict]]) -> dict:
    summary = {"objects": objects, "runs": results, "medians": {}}
    print(f"\na day of {objects} objects launched three ways, median of {max(map(len, results.values()))}")
    print(f"  {'':12}{'executor':>12}{'queued':>9}{'starting':>10}{'running':>10}{'run':>9}")
    for path, runs in results.items():
        med = {part: median([r[part] for r in runs]) for part in ("queued", "starting", "running", "run")}
        executors = sorted({r["executor"] for r in runs})
        summary["medians"][path] = {
            **med,
            "executor": "+".join(executors),
            "jobs": sorted({r["job"] for r in runs}),
            "running_each": [round(r["running"], 3) for r in runs],
        }
        print(
            f"  {path:12}{'+'.join(executors):>12}{med['queued']:>8.2f}s{med['starting']:>9.2f}s"
            f"{med['running']:>9.2f}s{med['run']:>8.2f}s   ({', '.join(sorted({r['job'] for r in runs}))})"
        )
        step_keys = list(dict.fromkeys(key for r in runs for key in r["steps"]))
        for key in step_keys:
            if key in INGEST_ASSETS:
                print(f"      {key:<40}{median([r['steps'][key] for r in runs if key in r['steps']]):>8.3f} s")

    def fmt(value: float) -> str:
        return "nan" if math.isnan(value) else f"{value:.3f}"

    executors = sorted({r["executor"] for runs in results.values() for r in runs})
    print(
        f"ui_launch_objects={objects} "
        + " ".join(f"{path}_running_s={fmt(summary['medians'].get(path, {}).get('running', math.nan))}" for path in PATHS)
        + f" executors={'+'.join(executors)}",
        flush=True,
    )
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--objects", type=int, default=700, help="metadata objects per launch")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions of each way (medians reported)")
    parser.add_argument("--paths", default=",".join(PATHS), help=f"which ways, comma-separated ({', '.join(PATHS)})")
    parser.add_argument("--timeout", type=float, default=300, help="seconds for each wait")
    parser.add_argument(
        "--attach",
        action="store_true",
        help="measure against the running processes of this environment, not a topology of its own",
    )
    parser.add_argument("--json-out", help="write all timings as JSON here")
    args = parser.parse_args(argv)
    paths = [p for p in args.paths.split(",") if p]
    if set(paths) - set(PATHS):
        parser.error(f"unknown ways: {sorted(set(paths) - set(PATHS))}")

    settings = Settings.from_env()
    results: dict[str, list[dict]] = {path: [] for path in paths}
    work = Path(tempfile.mkdtemp(prefix="heimdall-bench-ui-"))
    try:
        if args.attach:
            log("measuring against the running processes (--attach)")
            topology_cm = Attached(settings)
        else:
            log("starting the topology (scripts/serve.sh up), the sensor's reconciliation off")
            topology_cm = Topology(settings.database_url, settings, work, extra_env={"HEIMDALL_RECONCILE_PAGES_PER_TICK": "0"})
        with topology_cm as topology:
            url = topology.url if args.attach else webserver_url(topology)
            if not args.attach:
                log(f"iq_automation_sensor: {ui_launch.stop_sensor(url, 'iq_automation_sensor')}")
            for repetition in range(args.repeat):
                for index, path in enumerate(paths):
                    objects = todays_objects(repetition * len(PATHS) + index, args.objects)
                    wait_drained(topology, args.timeout)
                    upload(topology.s3, topology.bucket, objects)
                    with connect(topology.database_url) as conn:
                        reconcile_all(conn, topology.s3, topology.bucket)
                    day = datetime.now(UTC).date().isoformat()
                    run_id = launch(topology, url, path, day, args.timeout)
                    result = measure(topology.instance, run_id, args.timeout)
                    rows = rows_of_tasks(topology.database_url, task_ids(objects))
                    if rows != len(objects):
                        raise RuntimeError(f"{path}: {rows} rows for {len(objects)} objects")
                    results[path].append(result)
                    log(
                        f"#{repetition + 1} {path}: {result['job']} on {result['executor']}, "
                        f"running {result['running']:.2f} s (run {result['run']:.2f} s), {rows} rows"
                    )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary = report(args.objects, results)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
