"""A small run of the benchmark script (`make bench`), so it cannot rot: 20 sessions (140 objects),
2,000 rows for the DB and aggregate stages, one repeat, against the real services.

The dlt peer is skipped (--skip-dlt): it takes most of the wall time and could blow the timeout on
a loaded machine; `make bench` runs it. Its ratio then prints as `nan`. The URL the peer gets, the
path that broke when the roles landed, is tested on its own below.
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

ROOT = Path(__file__).resolve().parent.parent
SUMMARY_LINE = re.compile(
    r"^e2e_vs_floor=(\S+) dlt_vs_ours=(\S+) copy_vs_server=(\S+) hourly_vs_bare=(\S+) peak_rss_mb=(\S+) "
    r"iq_vs_raw_get=(\S+) iq_peak_rss_mb=(\S+)$"
)


def test_the_benchmark_runs_small_and_prints_its_summary_last(admin_database_url, s3_endpoint_url, tmp_path):
    json_out = tmp_path / "bench.json"
    command = [
        sys.executable,
        str(ROOT / "bench" / "run.py"),
        "--sessions",
        "20",
        "--repeat",
        "1",
        "--rows",
        "2000",
        "--skip-dlt",
        "--skip-iq",
        "--json-out",
        str(json_out),
    ]
    env = {
        **os.environ,
        "HEIMDALL_DATABASE_URL": admin_database_url,
        "HEIMDALL_S3_ENDPOINT_URL": s3_endpoint_url,
        "AWS_ACCESS_KEY_ID": "heimdall",
        "AWS_SECRET_ACCESS_KEY": "heimdall-secret",
        "AWS_REGION": "us-east-1",
        "HEIMDALL_DB_SCHEMA": TEST_DB_SCHEMA,
    }

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)

    assert done.returncode == 0, done.stderr[-3000:]
    last_line = done.stdout.strip().splitlines()[-1]
    match = SUMMARY_LINE.match(last_line)
    assert match, last_line
    e2e, dlt, copy, hourly, rss, iq, iq_rss = (float(value) for value in match.groups())
    assert math.isnan(iq) and math.isnan(iq_rss)  # --skip-iq
    for ratio in (e2e, copy, hourly):
        assert math.isfinite(ratio) and ratio > 0
    assert math.isnan(rss)  # --memory not asked for

    summary = json.loads(json_out.read_text())
    stages = summary["stages"]
    assert "dlt" not in stages and "dlt_parallel" not in stages and math.isnan(dlt)  # the peer was skipped
    assert stages["ours"]["units"] == 140 and len(stages["ours"]["seconds"]) == 1
    assert stages["floor"]["parts"].keys() == {"get", "copy"}
    assert stages["db_ours"]["units"] == stages["db_server"]["units"] == 2000
    assert math.isclose(summary["ratios"]["e2e_vs_floor"], e2e, rel_tol=1e-2)  # printed with 3 decimals
    assert list(tmp_path.iterdir()) == [json_out]  # nothing left behind in the working directory


def test_the_iq_stage_runs_small_and_states_its_ratio_and_peak_rss(admin_database_url, s3_endpoint_url, tmp_path):
    """--only-iq: a day of 2 sessions (14 recordings of 1 MB), computed and fetched raw, once each."""
    json_out = tmp_path / "bench.json"
    command = [
        sys.executable,
        str(ROOT / "bench" / "run.py"),
        "--only-iq",
        "--iq-sessions",
        "2",
        "--repeat",
        "1",
        "--iq-concurrency",
        "4",
        "--json-out",
        str(json_out),
    ]
    env = {
        **os.environ,
        "HEIMDALL_DATABASE_URL": admin_database_url,
        "HEIMDALL_S3_ENDPOINT_URL": s3_endpoint_url,
        "AWS_ACCESS_KEY_ID": "heimdall",
        "AWS_SECRET_ACCESS_KEY": "heimdall-secret",
        "AWS_REGION": "us-east-1",
    }

    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=180, cwd=tmp_path)

    assert done.returncode == 0, done.stderr[-3000:]
    match = SUMMARY_LINE.match(done.stdout.strip().splitlines()[-1])
    assert match, done.stdout[-500:]
    e2e, _, _, _, _, iq, iq_rss = (float(value) for value in match.groups())
    assert math.isnan(e2e)  # only the iq stage ran
    assert math.isfinite(iq) and iq > 0
    assert iq_rss > 0
    summary = json.loads(json_out.read_text())
    assert summary["stages"]["iq_ours"]["units"] == summary["stages"]["iq_raw"]["units"] == 14
    assert summary["stages"]["iq_raw"]["parts"]["mb"] == [pytest.approx(14 * 1.000128, rel=1e-3)]
    probe = summary["iq_memory"]
    assert (probe["recordings"], probe["computed"]) == (14, 14)
    assert 1 <= probe["peak_in_flight"] <= 4
    assert probe["peak_rss_mb"] >= probe["rss_before_mb"] > 0


def test_the_dlt_peer_gets_a_url_with_a_password_that_may_write_its_database(admin_database_url, role_urls):
    """Before: since the roles landed, the peer got the admin URL, which has no password, and dlt
    refused it (ConfigFieldMissingException ... password): `make bench` ran only with --skip-dlt."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from stack import fresh_database, peer_database_url
    finally:
        sys.path.remove(str(ROOT / "bench"))
    from urllib.parse import urlsplit

    from heimdall_pipeline.core.db import connect

    assert urlsplit(admin_database_url).password is None  # the local cluster's admin URL, as make bench passes it
    with fresh_database(admin_database_url, "peer") as url:
        peer = peer_database_url(url, admin_database_url, role_urls.owner)
        assert urlsplit(peer).password and urlsplit(peer).path == urlsplit(url).path
        with connect(peer, autocommit=True) as conn:  # what dlt does first: a schema of its own
            conn.execute("CREATE SCHEMA heimdall_dlt_probe")
            conn.execute("CREATE TABLE heimdall_dlt_probe.t (x int)")
    with pytest.raises(RuntimeError, match="needs a database URL with a password"):
        peer_database_url("postgresql://postgres@127.0.0.1:1/x", admin_database_url, None)
