"""`make bench`: our load path side by side with the machine's floor and with dlt.

One generated day of N sessions × 7 receivers is uploaded to a fresh bucket on the `make up` S3
server; every measured run loads into a fresh, migrated database on the `make up` TimescaleDB
(dropped afterwards). Timings are repeated (--repeat), ours and the baseline interleaved, and
the median reported. Stages (see BENCHMARKS.md):

  e2e     ours = ingest.ingest_window = list_uploads + load_pending, the functions the minio_metadata
          and measurements assets call (list, ledger, GET, parse, validate, load);
          floor = raw concurrent boto3 GETs (same concurrency, same pool) + server-side COPY FROM file
  peer    dlt filesystem source | json.loads transformer → postgres, defaults and parallelized=True
  db      N already-parsed rows: loader.load_rows vs server-side COPY FROM file
  hourly  aggregates.refresh_hourly for a day vs one bare INSERT … SELECT time_bucket … GROUP BY
  memory  (--memory) peak RSS of ingest_window for a 70,000-object day, in a subprocess
  iq      a day of IQ recordings (--iq-sessions × 7, 1 MB each): ours = iq_store.compute_and_store_day (the
          iq_metrics asset: GET, validate, np.load, compute, store) vs raw concurrent boto3 GETs of
          the same .npy objects at the same concurrency; and the peak RSS of compute_and_store_day in a subprocess

The last line printed is machine-readable:
  e2e_vs_floor=<x> dlt_vs_ours=<x> copy_vs_server=<x> hourly_vs_bare=<x> peak_rss_mb=<x> iq_vs_raw_get=<x> iq_peak_rss_mb=<x>
iq_vs_raw_get is a throughput ratio: raw GET seconds ÷ ours seconds (1.0 = computing costs nothing
beyond fetching; the goal is ≥ 0.8).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))  # run as a script: bench/ helpers import as top-level modules


from stack import (
    Timer,
    bench_sql,
    count_rows,
    fresh_bucket,
    fresh_database,
    median,
    peer_database_url,
    rows_of,
    server_copy,
    server_readable_csv,
    synthetic_rows,
)

from heimdall_pipeline.analytics.aggregates import day_bounds, refresh_hourly
from heimdall_pipeline.core.db import connect
from heimdall_pipeline.core.object_store import DEFAULT_CONCURRENCY, iter_metadata_objects, s3_client_from_settings
from heimdall_pipeline.core.settings import Settings
from heimdall_pipeline.devtools.sample_data import generate_day, upload
from heimdall_pipeline.ingest.loader import load_rows
from heimdall_pipeline.ingest.uploads import ingest_window
from heimdall_pipeline.iq.recordings import DEFAULT_IQ_CONCURRENCY
from heimdall_pipeline.iq.store import compute_and_store_day

DAY = date(2025, 10, 22)
# dlt's filesystem extra needs s3fs → aiobotocore, which pins an older botocore than ours: the
# peer lives in a venv of its own (`make bench` creates it) and runs as a subprocess.
PEER_PYTHON = BENCH_DIR.parent / ".venv-peer" / "bin" / "python"
MEMORY_SESSIONS = 10_000
UPLOAD_CONCURRENCY = 32


@dataclass
class Stage:
    name: str
    variant: str
    units: int  # objects or rows per run
    unit_name: str
    seconds: list[float] = field(default_factory=list)
    parts: dict[str, list[float]] = field(default_factory=dict)  # e.g. floor: get / copy

    @property
    def median(self) -> float:
        return median(self.seconds)

    def add(self, seconds: float, **parts: float) -> None:
        self.seconds.append(seconds)
        for name, value in parts.items():
            self.parts.setdefault(name, []).append(value)


def log(message: str) -> None:
    print(f"[bench {datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


def ratio(numerator: float, denominator: float) -> float:
    if math.isnan(numerator) or math.isnan(denominator) or denominator == 0:
        return float("nan")
    return numerator / denominator


def interleaved(run: int, ours, baseline) -> None:
    """Ours then the baseline on odd runs, the other way round on even runs (no warm-cache bias)."""
    for measure in (ours, baseline) if run % 2 else (baseline, ours):
        measure()


# --- e2e: ours, floor, peer -------------------------------------------------------------------


def run_ours(
    settings: Settings, url: str, bucket: str, window: tuple[datetime, datetime], concurrency: int, expected: int
) -> float:
    s3 = _client(settings, concurrency)
    with connect(url, autocommit=False) as conn:
        with Timer() as timer:
            listing, result = ingest_window(conn, s3, bucket, *window, concurrency=concurrency)
    if (listing.new, result.inserted, result.rejected, result.failed) != (expected, expected, 0, 0):
        raise RuntimeError(
            f"ours loaded {result.inserted} of {expected} (listing {listing}, "
            f"rejected {result.rejected}, failed {result.failed}: {result.failures[:3]})"
        )
    return timer.seconds


def raw_get(settings: Settings, bucket: str, keys: list[str], concurrency: int) -> tuple[float, int]:
    """Concurrent GETs of `keys` with boto3: seconds and bytes."""
    s3 = _client(settings, concurrency)

    def get(key: str) -> int:
        return len(s3.get_object(Bucket=bucket, Key=key)["Body"].read())

    with Timer() as timer, ThreadPoolExecutor(max_workers=concurrency) as pool:
        size = sum(pool.map(get, keys))
    return timer.seconds, size


_HAS_PEER_PACKAGES = "import importlib.util as u, sys; sys.exit(not (u.find_spec('dlt') and u.find_spec('s3fs')))"


def peer_python(requested: str | None) -> str | None:
    """The interpreter that has dlt: --dlt-python, else .venv-peer (make bench), else this one."""
    candidates = [requested] if requested else [str(PEER_PYTHON), sys.executable]
    for python in candidates:
        if Path(python).exists() and subprocess.run([python, "-c", _HAS_PEER_PACKAGES], capture_output=True).returncode == 0:
            return python
    return None


def run_dlt(python: str, url: str, bucket: str, endpoint_url: str, parallelized: bool, expected: int) -> float:
    command = [
        python,
        str(BENCH_DIR / "dlt_peer.py"),
        "--database-url",
        url,
        "--bucket",
        bucket,
        "--endpoint-url",
        endpoint_url,
    ] + (["--parallelized"] if parallelized else [])
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false"}
    with tempfile.TemporaryDirectory(prefix="heimdall-bench-dlt-cwd-") as cwd:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"dlt run failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["rows"] != expected:
        raise RuntimeError(f"dlt loaded {result['rows']} rows, expected {expected}")
    return result["seconds"]


def _client(settings: Settings, concurrency: int):
    return s3_client_from_settings(settings, max_pool_connections=concurrency)


def bench_day(args, settings: Settings, admin_url: str, stages: dict[str, Stage]) -> None:
    objects = generate_day(DAY, args.sessions, miss_rate=0)
    n = len(objects)
    s3 = _client(settings, UPLOAD_CONCURRENCY)
    with fresh_bucket(s3, "day") as bucket:
        log(f"uploading {n} objects to s3://{bucket}")
        uploaded_from = datetime.now(UTC) - timedelta(minutes=1)
        upload(s3, bucket, objects, concurrency=UPLOAD_CONCURRENCY)
        window = (uploaded_from, datetime.now(UTC) + timedelta(minutes=1))
        keys = [info.key for info in iter_metadata_objects(s3, bucket, *window)]
        if len(keys) != n:
            raise RuntimeError(f"listed {len(keys)} of {n} uploaded objects")
        ours = stages["ours"] = Stage("e2e day", f"ours (ingest_window, {args.concurrency} GETs)", n, "objects")
        floor = stages["floor"] = Stage("e2e day", f"floor (raw GET x{args.concurrency} + server COPY)", n, "objects")
        dlt_python = None if args.skip_dlt else peer_python(args.dlt_python)
        with_dlt = dlt_python is not None
        if with_dlt:
            peer = stages["dlt"] = Stage("e2e day", "dlt (defaults)", n, "objects")
            peer_parallel = stages["dlt_parallel"] = Stage("e2e day", "dlt (parallelized=True)", n, "objects")
        elif not args.skip_dlt:
            log("dlt is not importable: peer stage skipped (make bench installs it into .venv-peer)")
        with server_readable_csv(rows_of(bucket, objects)) as csv_path:

            def measure_ours() -> None:
                with fresh_database(admin_url, "ours") as url:
                    ours.add(run_ours(settings, url, bucket, window, args.concurrency, n))

            def measure_floor() -> None:
                with fresh_database(admin_url, "floor") as url:
                    get_seconds, _ = raw_get(settings, bucket, keys, args.concurrency)
                    copy_seconds = server_copy(url, csv_path)
                    if count_rows(url) != n:
                        raise RuntimeError("floor COPY loaded the wrong number of rows")
                    floor.add(get_seconds + copy_seconds, get=get_seconds, copy=copy_seconds)

            def measure_dlt() -> None:
                for stage, parallelized in ((peer, False), (peer_parallel, True)):
                    with fresh_database(admin_url, "dlt") as url:
                        url = peer_database_url(url, admin_url, os.environ.get("HEIMDALL_MIGRATE_DATABASE_URL"))
                        stage.add(run_dlt(dlt_python, url, bucket, settings.s3_endpoint_url, parallelized, n))

            for run in range(1, args.repeat + 1):
                interleaved(run, measure_ours, measure_floor)
                log(
                    f"run {run}: ours {ours.seconds[-1]:.2f}s, floor {floor.seconds[-1]:.2f}s "
                    f"(get {floor.parts['get'][-1]:.2f} + copy {floor.parts['copy'][-1]:.2f})"
                )
                if with_dlt:
                    measure_dlt()
                    log(f"run {run}: dlt {peer.seconds[-1]:.2f}s, dlt parallelized {peer_parallel.seconds[-1]:.2f}s")


# --- DB stage and aggregates ------------------------------------------------------------------


def bench_database(args, admin_url: str, stages: dict[str, Stage]) -> None:
    log(f"generating {args.rows} parsed rows")
    rows = synthetic_rows(DAY, args.rows)
    ours = stages["db_ours"] = Stage("db stage", "ours (loader.load_rows)", len(rows), "rows")
    server = stages["db_server"] = Stage("db stage", "server COPY FROM file", len(rows), "rows")
    refresh = stages["hourly_ours"] = Stage("hourly", "ours (aggregates.refresh_hourly)", len(rows), "rows")
    bare = stages["hourly_bare"] = Stage("hourly", "bare INSERT … SELECT time_bucket", len(rows), "rows")
    with server_readable_csv(rows) as csv_path:

        def measure_ours() -> None:
            with fresh_database(admin_url, "db_ours") as url, connect(url, autocommit=False) as conn:
                with Timer() as timer:
                    result = load_rows(conn, rows)
                if result.inserted != len(rows):
                    raise RuntimeError(f"load_rows inserted {result.inserted} of {len(rows)}")
                ours.add(timer.seconds)

        def measure_server() -> None:
            with fresh_database(admin_url, "db_server") as url:
                server.add(server_copy(url, csv_path))

        for run in range(1, args.repeat + 1):
            interleaved(run, measure_ours, measure_server)
            log(f"run {run}: load_rows {ours.seconds[-1]:.2f}s, server COPY {server.seconds[-1]:.2f}s")

        with fresh_database(admin_url, "hourly") as url, connect(url, autocommit=True) as conn:
            server_copy(url, csv_path)
            conn.execute("VACUUM ANALYZE measurements")
            conn.execute(bench_sql("create_bare_hourly.sql"))
            start, end = day_bounds(DAY)
            groups: list[int] = []

            def measure_refresh() -> None:
                with Timer() as timer:
                    groups.append(refresh_hourly(conn, DAY))
                refresh.add(timer.seconds)

            def measure_bare() -> None:
                conn.execute("TRUNCATE bare_hourly")
                with Timer() as timer:
                    cur = conn.execute(bench_sql("insert_bare_hourly.sql"), {"start": start, "end": end})
                bare.add(timer.seconds)
                groups.append(cur.rowcount)

            for run in range(1, args.repeat + 1):
                interleaved(run, measure_refresh, measure_bare)
                if groups[-1] != groups[-2]:
                    raise RuntimeError(f"refresh_hourly and the bare query wrote {groups[-2:]} groups")
                log(f"run {run}: refresh_hourly {refresh.seconds[-1]:.3f}s, bare {bare.seconds[-1]:.3f}s ({groups[-1]} groups)")


# --- memory -----------------------------------------------------------------------------------


def bench_memory(args, settings: Settings, admin_url: str) -> dict:
    objects = generate_day(DAY, MEMORY_SESSIONS, miss_rate=0)
    s3 = _client(settings, UPLOAD_CONCURRENCY)
    with fresh_bucket(s3, "memory") as bucket:
        log(f"memory: uploading {len(objects)} objects to s3://{bucket}")
        uploaded_from = datetime.now(UTC) - timedelta(minutes=1)
        upload(s3, bucket, objects, concurrency=UPLOAD_CONCURRENCY)
        end = datetime.now(UTC) + timedelta(minutes=1)
        del objects
        with fresh_database(admin_url, "memory") as url:
            command = [
                sys.executable,
                str(BENCH_DIR / "memory_probe.py"),
                "--database-url",
                url,
                "--bucket",
                bucket,
                "--start",
                uploaded_from.isoformat(),
                "--end",
                end.isoformat(),
                "--concurrency",
                str(args.concurrency),
            ]
            done = subprocess.run(
                command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(BENCH_DIR.parent)}
            )
            if done.returncode != 0:
                raise RuntimeError(f"memory probe failed:\n{done.stderr[-3000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
    log(f"memory: {result}")
    return result


# --- iq: recordings of a day ------------------------------------------------------------------


def bench_iq(args, settings: Settings, admin_url: str, stages: dict[str, Stage]) -> dict:
    """ours (compute_and_store_day) vs raw concurrent GETs of the same .npy objects, interleaved; then peak RSS."""
    objects = generate_day(DAY, args.iq_sessions, miss_rate=0)
    n = len(objects)
    s3 = _client(settings, UPLOAD_CONCURRENCY)
    with fresh_bucket(s3, "iq") as bucket, fresh_database(admin_url, "iq") as url:
        log(f"iq: uploading {n} metadata objects and their {n} recordings (1 MB each) to s3://{bucket}")
        uploaded_from = datetime.now(UTC) - timedelta(minutes=1)
        upload(s3, bucket, objects, concurrency=UPLOAD_CONCURRENCY, with_iq=True)
        window = (uploaded_from, datetime.now(UTC) + timedelta(minutes=1))
        keys = [info.key.removesuffix("_metadata.json") + ".npy" for info in iter_metadata_objects(s3, bucket, *window)]
        with connect(url) as conn:
            _, loaded = ingest_window(conn, s3, bucket, *window)
            if loaded.inserted != n:
                raise RuntimeError(f"iq: loaded {loaded.inserted} of {n} measurements")
            ours = stages["iq_ours"] = Stage(
                "iq day",
                f"ours (compute_and_store_day, {args.iq_concurrency} threads)",
                n,
                "recordings",
            )
            raw = stages["iq_raw"] = Stage("iq day", f"raw GET x{args.iq_concurrency} of the .npy", n, "recordings")

            def measure_ours() -> None:
                conn.execute("DELETE FROM iq_metrics")
                client = _client(settings, args.iq_concurrency)  # a new pool each run, as raw_get has
                with Timer() as timer:
                    result = compute_and_store_day(conn, client, bucket, *window, concurrency=args.iq_concurrency)
                if result.outcomes["computed"] != n:
                    raise RuntimeError(f"iq: computed {result.outcomes} of {n}: {result.rejections[:3]}")
                ours.add(timer.seconds)

            def measure_raw() -> None:
                seconds, size = raw_get(settings, bucket, keys, args.iq_concurrency)
                raw.add(seconds, mb=size / 1e6)

            for run in range(1, args.repeat + 1):
                interleaved(run, measure_ours, measure_raw)
                log(f"iq run {run}: ours {ours.seconds[-1]:.2f}s, raw GET {raw.seconds[-1]:.2f}s")
            conn.execute("DELETE FROM iq_metrics")
        command = [
            sys.executable,
            str(BENCH_DIR / "iq_probe.py"),
            "--database-url",
            url,
            "--bucket",
            bucket,
            "--start",
            window[0].isoformat(),
            "--end",
            window[1].isoformat(),
            "--concurrency",
            str(args.iq_concurrency),
        ]
        done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(BENCH_DIR.parent)})
        if done.returncode != 0:
            raise RuntimeError(f"iq probe failed:\n{done.stderr[-3000:]}")
        probe = json.loads(done.stdout.strip().splitlines()[-1])
    log(f"iq memory: {probe}")
    return probe


# --- report -----------------------------------------------------------------------------------


def report(args, stages: dict[str, Stage], memory: dict | None, iq_memory: dict | None = None) -> dict:
    def med(name: str) -> float:
        return stages[name].median if name in stages else float("nan")

    ratios = {
        "e2e_vs_floor": ratio(med("ours"), med("floor")),
        "dlt_vs_ours": ratio(med("dlt"), med("ours")),
        "copy_vs_server": ratio(med("db_server"), med("db_ours")),  # rows/s ours ÷ rows/s server
        "hourly_vs_bare": ratio(med("hourly_ours"), med("hourly_bare")),
        "peak_rss_mb": memory["peak_rss_mb"] if memory else float("nan"),
        # Throughput ratio: ours per second ÷ raw GET per second = raw seconds ÷ ours seconds.
        "iq_vs_raw_get": ratio(med("iq_raw"), med("iq_ours")),
        "iq_peak_rss_mb": iq_memory["peak_rss_mb"] if iq_memory else float("nan"),
    }
    extra = {"dlt_parallel_vs_ours": ratio(med("dlt_parallel"), med("ours"))}
    print(f"\n{'stage':<10} {'variant':<44} {'median s':>9} {'runs':>5} {'per second':>14}  parts (median s)")
    for stage in stages.values():
        rate = stage.units / stage.median if stage.median else float("nan")
        parts = ", ".join(f"{k} {median(v):.2f}" for k, v in stage.parts.items())
        print(
            f"{stage.name:<10} {stage.variant:<44} {stage.median:>9.3f} {len(stage.seconds):>5} "
            f"{rate:>10.0f} {stage.unit_name:<8} {parts}"
        )
    if memory:
        print(
            f"{'memory':<10} {'ours, ' + str(memory['objects']) + ' objects':<44} {memory['seconds']:>9.3f} {1:>5} "
            f"{memory['objects'] / memory['seconds']:>10.0f} objects peak RSS {memory['peak_rss_mb']:.1f} MB"
        )
    if iq_memory:
        print(
            f"{'iq memory':<10} {'ours, ' + str(iq_memory['recordings']) + ' recordings':<44} "
            f"{iq_memory['seconds']:>9.3f} {1:>5} {iq_memory['recordings'] / iq_memory['seconds']:>10.0f} recordings "
            f"peak RSS {iq_memory['peak_rss_mb']:.1f} MB (before the run {iq_memory['rss_before_mb']:.1f} MB), "
            f"peak {iq_memory['peak_in_flight']} in flight"
        )
    print(f"dlt_parallel_vs_ours={_fmt(extra['dlt_parallel_vs_ours'])}")
    summary = {
        "ratios": ratios,
        "extra": extra,
        "args": vars(args),
        "stages": {
            key: {
                "name": s.name,
                "variant": s.variant,
                "units": s.units,
                "unit": s.unit_name,
                "seconds": s.seconds,
                "median": s.median,
                "parts": s.parts,
            }
            for key, s in stages.items()
        },
        "memory": memory,
        "iq_memory": iq_memory,
    }
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(summary, indent=2, default=str), encoding="utf-8")
    print(" ".join(f"{name}={_fmt(value)}" for name, value in ratios.items()), flush=True)
    return summary


def _fmt(value: float) -> str:
    return "nan" if math.isnan(value) else f"{value:.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=1000, help="sessions in the day (x7 objects)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (median reported)")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows for the DB and aggregate stages")
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="GETs in flight (ours and floor)")
    parser.add_argument("--memory", action="store_true", help=f"also measure peak RSS for {MEMORY_SESSIONS * 7} objects")
    parser.add_argument("--skip-dlt", action="store_true", help="skip the dlt peer")
    parser.add_argument("--dlt-python", help="python with dlt[postgres,filesystem] and s3fs (default .venv-peer)")
    parser.add_argument("--json-out", help="write all timings and ratios as JSON here")
    parser.add_argument(
        "--iq-sessions", type=int, default=150, help="sessions of the IQ recordings day (x7 recordings of 1 MB each)"
    )
    parser.add_argument(
        "--iq-concurrency", type=int, default=DEFAULT_IQ_CONCURRENCY, help="recordings in flight (ours and the raw GET)"
    )
    parser.add_argument("--skip-iq", action="store_true", help="skip the IQ recordings stage")
    parser.add_argument("--only-iq", action="store_true", help="run only the IQ recordings stage")
    args = parser.parse_args(argv)

    settings = Settings.from_env()
    if not settings.s3_endpoint_url:
        parser.error("HEIMDALL_S3_ENDPOINT_URL is not set: run through `make bench` (or scripts/with_env.sh)")
    stages: dict[str, Stage] = {}
    memory = None
    if not args.only_iq:
        bench_day(args, settings, settings.database_url, stages)
        bench_database(args, settings.database_url, stages)
        memory = bench_memory(args, settings, settings.database_url) if args.memory else None
    iq_memory = None if args.skip_iq else bench_iq(args, settings, settings.database_url, stages)
    report(args, stages, memory, iq_memory)
    return 0


if __name__ == "__main__":
    sys.exit(main())
