"""One measured step of bench/scale.py, in a process of its own so its peak RSS is ours alone.

  tick  evaluate new_metadata_objects_sensor (notifications on) --ticks times from --cursor-key,
        as the daemon does: the reconciliation's slice, the consumer's entries, the retries
  run   materialize the ingest chain (with its checks) for --partition, as a sensor-launched run does

Prints one JSON line: seconds (each tick, or the run), LIST requests made (and, for ticks, the
seconds spent waiting for them: the store's share), peak RSS (VmHWM, MB).
The settings come from the environment (HEIMDALL_*), like the pipeline's own processes.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import botocore.client

warnings.filterwarnings("ignore")

from memory_probe import rss_mb  # bench/ is on sys.path when run as a script)

LIST_CALLS: list[float] = []  # seconds each LIST request took, as the client saw it
_make_api_call = botocore.client.BaseClient._make_api_call


def _counting(self, operation_name, api_params):
    if not operation_name.startswith("ListObject"):
        return _make_api_call(self, operation_name, api_params)
    started = time.perf_counter()
    try:
        return _make_api_call(self, operation_name, api_params)
    finally:
        LIST_CALLS.append(time.perf_counter() - started)


botocore.client.BaseClient._make_api_call = _counting


def _resources() -> dict:
    from heimdall_pipeline.defs.resources import resources_from_env

    return resources_from_env()


def tick(cursor_key: str, ticks: int) -> dict:
    from dagster import build_sensor_context

    from heimdall_pipeline.defs.ingest.sensors import build_new_metadata_objects_sensor
    from heimdall_pipeline.ingest.discovery import DiscoveryCursor

    sensor = build_new_metadata_objects_sensor(events=True)
    resources = _resources()
    cursor = DiscoveryCursor(start_after=cursor_key).dump()
    seconds, list_seconds = [], []
    for _ in range(ticks):
        listed_before = sum(LIST_CALLS)
        started = time.perf_counter()
        result = sensor(build_sensor_context(cursor=cursor, resources=resources))
        seconds.append(time.perf_counter() - started)
        list_seconds.append(sum(LIST_CALLS) - listed_before)
        cursor = result.cursor
    return {"seconds": seconds, "list_seconds": list_seconds, "list_requests": len(LIST_CALLS), "cursor": json.loads(cursor)}


def run(partition: str) -> dict:
    from dagster import materialize

    from heimdall_pipeline.defs.ingest.assets import INGEST_ASSETS
    from heimdall_pipeline.defs.ingest.checks import INGEST_ASSET_CHECKS

    resources = _resources()
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    started = time.perf_counter()
    result = materialize(
        [*INGEST_ASSETS, *INGEST_ASSET_CHECKS],
        partition_key=partition,
        resources=resources,
        run_config=quiet,
        raise_on_error=False,
    )
    seconds = time.perf_counter() - started
    loading = next(
        (
            e.materialization.metadata
            for e in result.get_asset_materialization_events()
            if e.materialization.asset_key.to_user_string() == "measurements"
        ),
        {},
    )
    return {
        "seconds": seconds,
        "success": result.success,
        "list_requests": len(LIST_CALLS),
        "inserted": loading["inserted"].value if "inserted" in loading else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("step", choices=("tick", "run"))
    parser.add_argument("--cursor-key", default="")
    parser.add_argument("--ticks", type=int, default=3)
    parser.add_argument("--partition")
    args = parser.parse_args(argv)
    out = tick(args.cursor_key, args.ticks) if args.step == "tick" else run(args.partition)
    out["peak_rss_mb"] = rss_mb("VmHWM")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
