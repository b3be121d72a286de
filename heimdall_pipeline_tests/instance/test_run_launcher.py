"""CodeServerRunLauncher's health check: a verdict only from a code server that answers.
(The FAILED verdict, from a restarted code server, is exercised for real in test_serve.py.)"""

from __future__ import annotations

import json
import socket

from dagster._core.launcher import WorkerStatus
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.tags import GRPC_INFO_TAG

from heimdall_pipeline.instance.run_launcher import CodeServerRunLauncher


def test_a_run_not_launched_on_a_code_server_is_left_alone():
    result = CodeServerRunLauncher().check_run_worker_health(DagsterRun(job_name="ingest_job", run_id="r1"))
    assert result.status == WorkerStatus.RUNNING
    assert "not launched on a code server" in result.msg


def test_a_code_server_that_does_not_answer_gives_no_verdict():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    run = DagsterRun(
        job_name="ingest_job", run_id="r2", tags={GRPC_INFO_TAG: json.dumps({"host": "127.0.0.1", "port": closed_port})}
    )
    result = CodeServerRunLauncher().check_run_worker_health(run)
    assert result.status == WorkerStatus.RUNNING
    assert f"127.0.0.1:{closed_port} did not answer" in result.msg


def test_the_launcher_reports_that_it_checks_worker_health():
    launcher = CodeServerRunLauncher()
    assert launcher.supports_check_run_worker_health
    assert not launcher.supports_resume_run  # hence max_resume_run_attempts: 0 in dagster.yaml
