"""Dagster's DefaultRunLauncher, plus the worker health check that run monitoring needs.

The default launcher starts each run as a subprocess of the code server and cannot tell the
monitoring daemon whether that process still lives, so a run whose code server died (a killed
container, a restarted process) would stay STARTED forever. This launcher asks the code server
the run was launched on (the run's grpc_info tag) which runs it is executing: a code server that
answers without the run means its worker is gone, and monitoring marks the run failed, after which
run_retries launches it again. A code server that does not answer proves nothing (it may be
restarting), so the run is left alone until it answers.

Needs the code server to be `dagster api grpc` (it answers GetCurrentRuns); `dagster code-server
start`'s proxy does not.
"""

from __future__ import annotations

import json

from dagster._core.launcher import CheckRunHealthResult, WorkerStatus
from dagster._core.launcher.default_run_launcher import DefaultRunLauncher
from dagster._core.storage.dagster_run import DagsterRun
from dagster._core.storage.tags import GRPC_INFO_TAG
from dagster._grpc.__generated__ import dagster_api_pb2
from dagster._grpc.client import DagsterGrpcClient
from dagster._grpc.types import GetCurrentRunsResult
from dagster._serdes import deserialize_value

HEALTH_CHECK_TIMEOUT_SECONDS = 10


class CodeServerRunLauncher(DefaultRunLauncher):
    """Launches runs on the code server like DefaultRunLauncher and reports whether they still run."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        grpc_info = run.tags.get(GRPC_INFO_TAG)
        if not grpc_info:
            # Not launched on a code server (an in-process run such as `make demo`'s): its process
            # reports its own end; nothing here can see it.
            return CheckRunHealthResult(WorkerStatus.RUNNING, "not launched on a code server; not checked")
        info = json.loads(grpc_info)
        where = info.get("socket") or f"{info.get('host')}:{info.get('port')}"
        client = DagsterGrpcClient(
            host=info.get("host", "localhost"),
            port=info.get("port"),
            socket=info.get("socket"),
            use_ssl=bool(info.get("use_ssl", False)),
        )
        try:
            reply = client._query("GetCurrentRuns", dagster_api_pb2.Empty, timeout=HEALTH_CHECK_TIMEOUT_SECONDS)
            current = deserialize_value(reply.serialized_current_runs, GetCurrentRunsResult).current_runs
        except Exception as error:  # unreachable or restarting: no verdict
            return CheckRunHealthResult(
                WorkerStatus.RUNNING, f"code server {where} did not answer ({type(error).__name__}); checking again later"
            )
        if run.run_id in current:
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"running on code server {where}")
        return CheckRunHealthResult(
            WorkerStatus.FAILED,
            f"code server {where} has no process for this run: it was restarted or the run's process died",
        )
