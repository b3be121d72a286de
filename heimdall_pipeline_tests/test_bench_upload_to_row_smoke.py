"""A small run of `make bench`'s upload → row script, so it cannot rot: 14 objects, one repetition,
through the real three-process topology (scripts/serve.sh) on a Dagster instance of its own.

It waits for the sensor's next tick (up to SENSOR_INTERVAL_SECONDS). Nothing here asserts a
timing: only that every part of the breakdown was measured and the summary line is printed last.
"""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from heimdall_pipeline.defs.ingest.sensors import SENSOR_INTERVAL_SECONDS
from heimdall_pipeline_tests.conftest import TEST_DB_SCHEMA

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("serve")]

ROOT = Path(__file__).resolve().parent.parent
SUMMARY_LINE = re.compile(
    r"^upload_to_row_s=(\S+) run_s=(\S+) library_s=(\S+) launched_vs_library=(\S+) sensor_interval_s=(\d+) "
    r"events_upload_to_row_s=(\S+) events_upload_to_row_p95_s=(\S+) events_runs=(\d+)$"
)


def test_upload_to_row_runs_small_and_prints_its_summary_last(admin_database_url, s3_endpoint_url, tmp_path):
    """Also the end-to-end test of notifications through the daemon: S3 → SQS (the S3 server is the
    producer) → heimdall-events beside `serve.sh up`'s daemon, with the reconciliation off, so the
    rows and the sensor's runs come from notifications alone, with no listing anywhere."""
    json_out = tmp_path / "upload_to_row.json"
    command = [
        sys.executable,
        str(ROOT / "bench" / "upload_to_row.py"),
        "--objects",
        "14",
        "--repeat",
        "1",
        "--event-repeat",
        "3",
        "--json-out",
        str(json_out),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEIMDALL_", "DAGSTER_"))}
    env.update(
        HEIMDALL_DATABASE_URL=admin_database_url,
        HEIMDALL_S3_ENDPOINT_URL=s3_endpoint_url,
        HEIMDALL_S3_BUCKET="unused-by-the-bench",
        AWS_ACCESS_KEY_ID="heimdall",
        AWS_SECRET_ACCESS_KEY="heimdall-secret",
        AWS_REGION="us-east-1",
        HEIMDALL_DB_SCHEMA=TEST_DB_SCHEMA,
    )

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)

    assert done.returncode == 0, done.stderr[-3000:]
    match = SUMMARY_LINE.match(done.stdout.strip().splitlines()[-1])
    assert match, done.stdout[-2000:]
    assert int(match.group(5)) == SENSOR_INTERVAL_SECONDS
    summary = json.loads(json_out.read_text())
    (launched,) = summary["launched"]
    for part in ("upload_to_row", "tick", "queued", "starting", "running", "run"):
        assert math.isfinite(launched[part]) and launched[part] >= 0, part
    assert launched["tick"] <= launched["upload_to_row"] <= launched["upload_to_run_success"] + 1
    assert {"minio_metadata", "measurements", "measurements_hourly"} <= set(launched["steps"])
    assert summary["library_runs"] and summary["objects"] == 14
    events = summary["events"]
    assert len(events["upload_to_row"]) == 3 and all(0 < t < 60 for t in events["upload_to_row"])
    assert int(match.group(8)) == events["runs"] >= 1  # the daemon's runs for the notified day, all succeeded
    assert list(tmp_path.iterdir()) == [json_out]  # nothing left behind in the working directory
