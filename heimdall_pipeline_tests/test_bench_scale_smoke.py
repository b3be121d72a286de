"""A small run of `make bench`'s scale script, so it cannot rot: two small bucket sizes, a few new
objects, one acquisition. Nothing here asserts a timing: only that every figure was measured, that
neither the partition run nor the consumer listed the bucket, and that the ratios line comes last.
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

from heimdall_pipeline_tests.conftest import TEST_DB_SCHEMA

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parent.parent
RATIOS = re.compile(r"^run_ratio=(\S+) discovery_ratio=(\S+) tick_ratio=(\S+) rss_ratio=(\S+) tick_ours_ratio=(\S+)$")


def test_scale_runs_small_and_prints_its_ratios_last(admin_database_url, tmp_path):
    json_out = tmp_path / "scale.json"
    command = [
        sys.executable,
        str(ROOT / "bench" / "scale.py"),
        "--sizes",
        "1000,3000",
        "--new-objects",
        "14",
        "--acquisitions",
        "1",
        "--json-out",
        str(json_out),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEIMDALL_", "DAGSTER_"))}
    env.update(HEIMDALL_DATABASE_URL=admin_database_url, HEIMDALL_DB_SCHEMA=TEST_DB_SCHEMA)

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)

    assert done.returncode == 0, done.stderr[-3000:]
    match = RATIOS.match(done.stdout.strip().splitlines()[-1])
    assert match, done.stdout[-2000:]
    assert all(math.isfinite(float(value)) and float(value) > 0 for value in match.groups())
    results = json.loads(json_out.read_text())["results"]
    assert [r["keys"] for r in results] == [1000, 3000]
    for r in results:
        assert r["run_list_requests"] == 0  # a partition run takes its objects from the ledger
        assert r["run_objects"] == 14 and r["tick_list_requests"] > 0  # the reconciliation lists
        assert 0 < r["discovery_s"] < 60 and r["rss_mb"] > 0
    assert list(tmp_path.iterdir()) == [json_out]
