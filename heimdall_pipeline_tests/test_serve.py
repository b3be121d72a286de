"""The deployment topology, for real: scripts/serve.sh starts a code server, dagster-webserver and
dagster-daemon on a PostgreSQL instance of their own, pointed at a database and a bucket of their
own; the tests drive them as an operator would (GraphQL, uploads) and kill processes mid-run.

All tests of this module share one topology, so they run on one xdist worker (xdist_group).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.storage.tags import BACKFILL_ID_TAG, PARTITION_NAME_TAG, ROOT_RUN_ID_TAG, SENSOR_NAME_TAG
from dagster_graphql import DagsterGraphQLClient

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.core.locks import advisory_locks
from heimdall_pipeline.devtools import ui_launch
from heimdall_pipeline.devtools.sample_data import bad_objects, generate_day
from heimdall_pipeline.ingest.discovery import reconcile_all
from heimdall_pipeline.ingest.uploads import upload_day_lock
from heimdall_pipeline.instance.run_coordinator import BACKGROUND_TAG, INGEST_DAY_TAG, IQ_DAY_TAG
from heimdall_pipeline.iq.store import iq_day_lock
from heimdall_pipeline.schema.migrations import migrate
from heimdall_pipeline_tests.conftest import TEST_DB_SCHEMA, _with_database
from heimdall_pipeline_tests.defs.conftest import noon, put_uploaded_at, store_uploaded_at

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("serve")]

REPO = Path(__file__).resolve().parent.parent
SERVE = str(REPO / "scripts" / "serve.sh")
LOCATION = "heimdall_pipeline"
FINISHED = {DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED}
IN_FLIGHT = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
    DagsterRunStatus.CANCELING,
]
INGEST = ("minio_metadata", "measurements", "measurements_hourly")
IQ = ("iq_metrics", "heimdall_vs_recomputed_metrics")


@dataclass
class Topology:
    env: dict[str, str]
    state: Path
    database_url: str
    bucket: str
    webserver_port: int
    instance: DagsterInstance

    def graphql(self) -> DagsterGraphQLClient:
        return DagsterGraphQLClient("127.0.0.1", port_number=self.webserver_port, timeout=60)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.webserver_port}"

    def serve(self, command: str) -> str:
        done = subprocess.run([SERVE, command], env=self.env, capture_output=True, text=True, timeout=400)
        assert done.returncode == 0, f"serve.sh {command} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def pid(self, service: str) -> int:
        return int((self.state / f"{service}.pid").read_text().split()[0])


def _env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def _create_database(admin_url: str, prefix: str) -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def serve_env(
    work: Path, admin_url: str, heimdall_db: str, dagster_db: str, s3_endpoint_url: str, bucket: str, **settings: str
) -> dict[str, str]:
    """The environment of a `scripts/serve.sh` topology of its own under `work`: its databases, bucket,
    DAGSTER_HOME (the repository's dagster.yaml) and state directory; nothing of the caller's."""
    home = work / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").symlink_to(REPO / "dagster.yaml")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEIMDALL_", "DAGSTER_", "AWS_", "PYTEST_"))}
    env.update(
        HEIMDALL_DATABASE_URL=_with_database(admin_url, heimdall_db),
        HEIMDALL_S3_ENDPOINT_URL=s3_endpoint_url,
        HEIMDALL_S3_BUCKET=bucket,
        AWS_ACCESS_KEY_ID="heimdall",
        AWS_SECRET_ACCESS_KEY="heimdall-secret",
        AWS_REGION="us-east-1",
        DAGSTER_HOME=str(home),
        DAGSTER_POSTGRES_URL=_with_database(admin_url, dagster_db),
        HEIMDALL_SERVE_STATE=str(work / "state"),
        HEIMDALL_SERVE_ENVFILE=str(work / "env"),
        HEIMDALL_DB_SCHEMA=TEST_DB_SCHEMA,
        **settings,
    )
    return env


@pytest.fixture(scope="module")
def topology(admin_database_url, s3_endpoint_url, tmp_path_factory):
    from heimdall_pipeline.core.object_store import make_s3_client

    work = tmp_path_factory.mktemp("serve")
    heimdall_db = _create_database(admin_database_url, "heimdall_serve")
    dagster_db = _create_database(admin_database_url, "dagster_serve")
    database_url = _with_database(admin_database_url, heimdall_db)
    migrate(database_url)
    bucket = f"heimdall-serve-{uuid.uuid4().hex[:8]}"
    make_s3_client(s3_endpoint_url, "us-east-1", "heimdall", "heimdall-secret").create_bucket(Bucket=bucket)
    env = serve_env(work, admin_database_url, heimdall_db, dagster_db, s3_endpoint_url, bucket)
    home = work / "dagster_home"
    topology = None
    try:
        done = subprocess.run([SERVE, "up"], env=env, capture_output=True, text=True, timeout=400)
        assert done.returncode == 0, f"serve.sh up failed:\n{done.stdout}\n{done.stderr}"
        written = _env_file(work / "env")
        port = int(written["HEIMDALL_DAGSTER_URL"].rsplit(":", 1)[1])
        assert written["HEIMDALL_CODE_SERVER_PORT"] == (work / "state" / "code-server.port").read_text().strip()
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("DAGSTER_POSTGRES_URL", env["DAGSTER_POSTGRES_URL"])
            instance = DagsterInstance.from_config(str(home))
        topology = Topology(env, work / "state", database_url, bucket, port, instance)
        yield topology
    finally:
        subprocess.run([SERVE, "down"], env=env, capture_output=True, text=True, timeout=120)
        if topology:
            topology.instance.dispose()
        with connect(admin_database_url, autocommit=True) as admin:
            for name in (heimdall_db, dagster_db):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _wait(predicate, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def _status(topology: Topology, run_id: str) -> DagsterRunStatus:
    return topology.instance.get_run_by_id(run_id).status


def _upload_day(topology: Topology, s3, day: date, sessions: int, direct: bool = False, discover: bool = True):
    """A day of objects (and two bad ones) uploaded at noon of `day`; `direct`: straight into the
    in-process S3 server, for many objects. `discover`: then recorded in the ledger, as the
    sensor's reconciliation (or a notification) does before a run of the day is launched."""
    good, bad = generate_day(day, sessions=sessions, seed=day.toordinal()), bad_objects(day)[:2]
    if direct:
        store_uploaded_at(topology.bucket, good + bad, noon(day), spacing=0.01)
    else:
        put_uploaded_at(s3, topology.bucket, good + bad, noon(day), spacing=0.01)
    if discover:
        with connect(topology.database_url) as conn:
            reconcile_all(conn, s3, topology.bucket)
    return good, bad


def _day_state(topology: Topology, day: date) -> tuple[Counter, int]:
    """(ledger statuses, measurements rows) of the objects uploaded on `day`."""
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    with connect(topology.database_url, autocommit=False) as conn:
        statuses = Counter(
            dict(
                conn.execute(
                    "SELECT status, count(*) FROM ingest_ledger WHERE last_modified >= %s AND last_modified < %s GROUP BY status",
                    (start, start + timedelta(days=1)),
                ).fetchall()
            )
        )
        rows = conn.execute(
            "SELECT count(*) FROM measurements m JOIN ingest_ledger l "
            "ON (l.task_id, l.websdr_id, l.timestamp_utc) = (m.task_id, m.websdr_id, m.timestamp_utc) "
            "WHERE l.status = 'loaded' AND l.last_modified >= %s AND l.last_modified < %s",
            (start, start + timedelta(days=1)),
        ).fetchone()[0]
    return statuses, rows


def _launch(topology: Topology, day: date) -> str:
    return topology.graphql().submit_job_execution(
        "ingest_job", repository_location_name=LOCATION, tags={PARTITION_NAME_TAG: day.isoformat()}
    )


def _drained(topology: Topology) -> bool:
    return not topology.instance.get_runs(filters=RunsFilter(statuses=IN_FLIGHT))


def _finished(topology: Topology, run_id: str, timeout: float = 300) -> DagsterRunStatus:
    return _wait(lambda: _status(topology, run_id) in FINISHED and _status(topology, run_id), timeout, f"run {run_id} to finish")


def _step_started(topology: Topology, run_id: str, step: str) -> bool:
    return any(e.step_key == step for e in topology.instance.all_logs(run_id, of_type=DagsterEventType.STEP_START))


def _event_times(topology: Topology, run_id: str) -> dict[str, float]:
    """The first time of each kind of event of the run (PIPELINE_STARTING: the daemon launched it)."""
    times: dict[str, float] = {}
    for entry in topology.instance.all_logs(run_id):
        if entry.dagster_event is not None:
            times.setdefault(entry.dagster_event.event_type_value, entry.timestamp)
    return times


def _ran_in_one_process(topology: Topology, run_id: str) -> bool:
    messages = [e.message or "" for e in topology.instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT)]
    return any(m.startswith("Executing steps in process") for m in messages) and not any("multiprocess" in m for m in messages)


def test_make_dev_refuses_an_instance_that_make_serve_runs_and_names_the_same_location(topology):
    """Before: `make dev` beside `make serve` started a second daemon on the instance; under another
    location name it removed serve's schedule state and a run failed with DagsterCodeLocationNotFoundError."""
    started = time.monotonic()
    done = subprocess.run([SERVE, "dev"], env=topology.env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and time.monotonic() - started < 30
    [line] = done.stderr.strip().splitlines()
    assert "already run by make serve" in line and "a second daemon would split it" in line, done.stderr
    # Nothing of dev started: the instance still has serve's one daemon.
    assert "Dagster UI" not in done.stdout
    # Both name the code location `heimdall_pipeline`: dev through the root workspace.yaml.
    import yaml

    [entry] = yaml.safe_load((REPO / "workspace.yaml").read_text())["load_from"]
    script = Path(SERVE).read_text()
    assert entry["python_module"]["location_name"] == "heimdall_pipeline"
    assert "--location-name heimdall_pipeline" in script and 'dev -w "$ROOT/workspace.yaml"' in script
    # serve again adopts its own processes instead of refusing.
    again = subprocess.run([SERVE, "up"], env=topology.env, capture_output=True, text=True, timeout=400)
    assert again.returncode == 0, again.stderr


def test_a_partition_launched_over_graphql_loads_its_objects(topology, s3):
    day = datetime.now(UTC).date() - timedelta(days=2)
    good, bad = _upload_day(topology, s3, day, sessions=10)

    started = time.monotonic()
    run_id = _launch(topology, day)
    status = _wait(
        lambda: topology.graphql().get_run_status(run_id) in FINISHED and topology.graphql().get_run_status(run_id),
        300,
        "the run to finish",
    )
    print(f"\ningest_job {day} over GraphQL: {status.value} in {time.monotonic() - started:.1f} s")

    assert status == DagsterRunStatus.SUCCESS
    run = topology.instance.get_run_by_id(run_id)
    assert run.tags[INGEST_DAY_TAG] == day.isoformat()  # what the per-day concurrency limit keys on
    statuses, rows = _day_state(topology, day)
    assert statuses == Counter({"loaded": len(good), "rejected": len(bad)})
    assert rows == len(good)


def test_the_daemons_sensor_launches_a_run_for_new_uploads(topology, s3):
    day = datetime.now(UTC).date() - timedelta(days=3)
    good, bad = _upload_day(topology, s3, day, sessions=5, discover=False)  # the sensor finds them

    def sensor_run_succeeded():
        runs = topology.instance.get_runs(
            filters=RunsFilter(tags={SENSOR_NAME_TAG: "new_metadata_objects_sensor", PARTITION_NAME_TAG: day.isoformat()})
        )
        return any(run.status == DagsterRunStatus.SUCCESS for run in runs)

    # The sensor ticks every 30 s; then the run starts and loads.
    _wait(sensor_run_succeeded, 240, "a successful sensor run for the new objects", interval=2)
    statuses, rows = _day_state(topology, day)
    assert statuses == Counter({"loaded": len(good), "rejected": len(bad)})
    assert rows == len(good)


def test_killing_the_daemon_and_code_server_mid_run_loses_and_doubles_nothing(topology, s3):
    day = datetime.now(UTC).date() - timedelta(days=4)
    queued_day = day - timedelta(days=1)
    good, bad = _upload_day(topology, s3, day, sessions=150, direct=True)
    queued_good, queued_bad = _upload_day(topology, s3, queued_day, sessions=3)

    run_id = _launch(topology, day)
    _wait(lambda: _status(topology, run_id) == DagsterRunStatus.STARTED, 240, "the run to start")
    daemon = topology.pid("daemon")
    os.killpg(daemon, signal.SIGKILL)  # with its whole process group

    # While the daemon is down, a run launched from the UI waits in the queue.
    queued_run_id = _launch(topology, queued_day)
    time.sleep(2)
    assert _status(topology, queued_run_id) == DagsterRunStatus.QUEUED

    # Mid-run (loading the day, not every object loaded yet), the code server dies with its process
    # group, the run's worker included: a killed container.
    def loading():
        starts = topology.instance.all_logs(run_id, of_type=DagsterEventType.STEP_START)
        return any(event.step_key == "measurements" for event in starts)

    _wait(loading, 120, "the run to start loading", interval=0.1)
    os.killpg(topology.pid("code-server"), signal.SIGKILL)
    killed_at = time.monotonic()
    statuses, _ = _day_state(topology, day)
    assert _status(topology, run_id) == DagsterRunStatus.STARTED, "the run ended before the kill"
    assert statuses["loaded"] < len(good), "the run had loaded everything before the kill"

    restart = topology.serve("up")
    assert "webserver already running" in restart

    # Run monitoring finds the run's worker gone and fails it; run_retries launches it again.
    _wait(lambda: _status(topology, run_id) == DagsterRunStatus.FAILURE, 180, "monitoring to fail the dead run")
    failed_at = time.monotonic()

    # The retry daemon acts on the failure on its own tick: the queue can look drained for a moment
    # between the failure and the retry's launch.
    def retries_of_run():
        return topology.instance.get_runs(filters=RunsFilter(tags={ROOT_RUN_ID_TAG: run_id}))

    _wait(lambda: bool(retries_of_run()), 120, "run_retries to launch a retry", interval=1)
    _wait(lambda: _drained(topology), 300, "the queue to drain", interval=1)
    print(
        f"\nkilled mid-run; run marked failed {failed_at - killed_at:.0f} s later; "
        f"queue drained {time.monotonic() - killed_at:.0f} s after the kill"
    )

    retries = retries_of_run()
    assert any(run.status == DagsterRunStatus.SUCCESS for run in retries)
    assert _status(topology, queued_run_id) == DagsterRunStatus.SUCCESS

    for one_day, day_good, day_bad in ((day, good, bad), (queued_day, queued_good, queued_bad)):
        statuses, rows = _day_state(topology, one_day)
        assert statuses == Counter({"loaded": len(day_good), "rejected": len(day_bad)})
        assert rows == len(day_good)
    with connect(topology.database_url, autocommit=False) as conn:
        total, distinct = conn.execute(
            "SELECT count(*), count(DISTINCT (task_id, websdr_id, timestamp_utc)) FROM measurements"
        ).fetchone()
        ledger_total = conn.execute("SELECT count(*) FROM ingest_ledger WHERE status = 'loaded'").fetchone()[0]
    assert total == distinct == ledger_total


# --- The instance's settings, shown working (dagster.yaml: run queue limits, run_retries) --------------


def test_a_second_run_of_the_same_day_waits_in_the_queue_until_the_first_ends(topology, s3):
    """heimdall/ingest_day, one run per value: whatever launched them, two loads of one day never
    overlap, while a run of another day, queued after them, goes ahead."""
    day = datetime.now(UTC).date() - timedelta(days=6)
    other_day = day - timedelta(days=1)
    good, bad = _upload_day(topology, s3, day, sessions=3)
    _upload_day(topology, s3, other_day, sessions=2)

    # The test holds the day's load lock, so the first run stays in its `measurements` step.
    with connect(topology.database_url) as conn, advisory_locks(conn, [upload_day_lock(day)]):
        first = ui_launch.materialize_partition(topology.url, INGEST, day.isoformat())  # "Materialize all", 1 run
        _wait(lambda: _step_started(topology, first, "measurements"), 240, "the first run to reach measurements")
        second = _launch(topology, day)  # ingest_job, as the sensor and the schedule launch it
        later = _launch(topology, other_day)
        # The daemon takes the queue in order: launching the run queued after the second one means
        # it looked at the second one and held it back.
        _wait(
            lambda: _status(topology, later) not in (DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED),
            240,
            "the daemon to launch the run of the other day",
        )
        assert _status(topology, second) == DagsterRunStatus.QUEUED
        assert _status(topology, first) == DagsterRunStatus.STARTED

    assert _finished(topology, first) == DagsterRunStatus.SUCCESS
    assert _finished(topology, second) == DagsterRunStatus.SUCCESS
    assert _finished(topology, later) == DagsterRunStatus.SUCCESS
    assert _event_times(topology, second)["PIPELINE_STARTING"] >= _event_times(topology, first)["PIPELINE_SUCCESS"]
    for run_id, job in ((first, "__ASSET_JOB"), (second, "ingest_job")):
        run = topology.instance.get_run_by_id(run_id)
        assert (run.job_name, run.tags[INGEST_DAY_TAG]) == (job, day.isoformat())
        assert BACKGROUND_TAG not in run.tags
        assert _ran_in_one_process(topology, run_id), f"{job} ran its steps in more than one process"
    statuses, rows = _day_state(topology, day)
    assert statuses == Counter({"loaded": len(good), "rejected": len(bad)})
    assert rows == len(good)


def test_an_iq_run_of_a_day_running_or_queued_does_not_hold_back_that_days_ingest_run(topology, s3):
    """Before: IQ runs carried dagster/partition under the one-run-per-day limit, so a sensor run
    waited for an iq_automation_sensor run of its day. Now IQ counts against heimdall/iq_day and the
    background lane only."""
    day = datetime.now(UTC).date() - timedelta(days=8)
    good, bad = _upload_day(topology, s3, day, sessions=3)

    # The test holds the day's IQ lock (iq_metrics takes it per day), so the IQ run stays running.
    with connect(topology.database_url) as conn, advisory_locks(conn, [iq_day_lock(day)]):
        iq_running = topology.graphql().submit_job_execution(
            "iq_job", repository_location_name=LOCATION, tags={PARTITION_NAME_TAG: day.isoformat()}
        )
        _wait(lambda: _step_started(topology, iq_running, "iq_metrics"), 240, "the IQ run to reach iq_metrics")
        iq_queued = ui_launch.materialize_partition(topology.url, IQ, day.isoformat())
        ingest = _launch(topology, day)
        assert _finished(topology, ingest) == DagsterRunStatus.SUCCESS
        assert _status(topology, iq_running) == DagsterRunStatus.STARTED
        assert _status(topology, iq_queued) == DagsterRunStatus.QUEUED

    for run_id in (iq_running, iq_queued):
        run = topology.instance.get_run_by_id(run_id)
        assert (run.tags[IQ_DAY_TAG], run.tags[BACKGROUND_TAG]) == (day.isoformat(), "iq")
        assert INGEST_DAY_TAG not in run.tags
    # The held run goes on once the lock is free. (The queued one waits its turn in the background
    # lane, behind the IQ runs iq_automation_sensor requested for this module's other days.)
    assert _finished(topology, iq_running) == DagsterRunStatus.SUCCESS
    statuses, rows = _day_state(topology, day)
    assert statuses == Counter({"loaded": len(good), "rejected": len(bad)})
    assert rows == len(good)


def test_a_run_whose_asset_failed_is_retried_and_the_retry_succeeds(topology, s3):
    """run_retries with retry_on_asset_or_op_failure: measurements_hourly fails once (a trigger
    refuses the first hourly row of the day, as a transient database error would), the run fails,
    the daemon launches a retry of the whole chain, and it succeeds."""
    day = datetime.now(UTC).date() - timedelta(days=9)
    good, bad = _upload_day(topology, s3, day, sessions=3)
    schema = TEST_DB_SCHEMA
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    with connect(topology.database_url) as conn:
        conn.execute(f"""
            CREATE SEQUENCE {schema}.test_fail_once;
            CREATE FUNCTION {schema}.test_fail_once() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                -- A sequence is not rolled back with the failed statement: this fails exactly once.
                IF nextval('{schema}.test_fail_once') = 1 THEN
                    RAISE EXCEPTION 'injected failure: the hourly refresh of % lost its connection', NEW.bucket::date;
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER test_fail_once BEFORE INSERT ON {schema}.measurements_hourly FOR EACH ROW
                WHEN (NEW.bucket >= '{start.isoformat()}' AND NEW.bucket < '{(start + timedelta(days=1)).isoformat()}')
                EXECUTE FUNCTION {schema}.test_fail_once();
        """)
    try:
        run_id = _launch(topology, day)
        assert _finished(topology, run_id) == DagsterRunStatus.FAILURE

        def retries():
            return topology.instance.get_runs(filters=RunsFilter(tags={ROOT_RUN_ID_TAG: run_id}))

        _wait(
            lambda: retries() and all(_status(topology, r.run_id) in FINISHED for r in retries()),
            300,
            "run_retries' retry to finish",
            interval=1,
        )
    finally:
        with connect(topology.database_url) as conn:
            conn.execute(
                f"DROP TRIGGER IF EXISTS test_fail_once ON {schema}.measurements_hourly; "
                f"DROP FUNCTION IF EXISTS {schema}.test_fail_once(); DROP SEQUENCE IF EXISTS {schema}.test_fail_once"
            )

    failures = topology.instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE)
    assert [event.step_key for event in failures] == ["measurements_hourly"]
    assert "injected failure" in failures[0].dagster_event.step_failure_data.error.to_string()
    (retry,) = retries()
    assert retry.status == DagsterRunStatus.SUCCESS
    assert (retry.tags["dagster/retry_number"], retry.tags[INGEST_DAY_TAG]) == ("1", day.isoformat())
    assert _step_started(topology, retry.run_id, "measurements_hourly")
    statuses, rows = _day_state(topology, day)
    assert statuses == Counter({"loaded": len(good), "rejected": len(bad)})
    assert rows == len(good)
    with connect(topology.database_url) as conn:
        hourly = conn.execute(
            "SELECT sum(measurement_count) FROM measurements_hourly WHERE bucket >= %s AND bucket < %s",
            (start, start + timedelta(days=1)),
        ).fetchone()[0]
    assert hourly == len(good)


def _check_evaluations(topology: Topology, run_ids: list[str]) -> dict[tuple[str, str | None], bool]:
    found = {}
    for run_id in run_ids:
        for entry in topology.instance.all_logs(run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluation = entry.dagster_event.event_specific_data
            found[(evaluation.check_name, evaluation.partition)] = evaluation.passed
    return found


def test_a_backfill_launched_as_the_ui_launches_it_reports_each_days_own_figures(topology, s3):
    """launchPartitionBackfill as the UI sends it; the daemon's backfill loop runs the days (one
    ranged run, BackfillPolicy.multi_run); each day's materialization and checks are its own."""
    today = datetime.now(UTC).date()
    days = [today - timedelta(days=12), today - timedelta(days=11), today - timedelta(days=10)]
    uploaded = {day: _upload_day(topology, s3, day, sessions=2 + index) for index, day in enumerate(days)}

    backfill_id = ui_launch.launch_partition_backfill(topology.url, INGEST, [day.isoformat() for day in days])
    done = {"COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}
    # The daemon's backfill loop wakes every 30 s: it submits the run, then marks the backfill done.
    status = _wait(
        lambda: (s := ui_launch.backfill_status(topology.url, backfill_id)) in done and s,
        300,
        "the backfill to complete",
        interval=2,
    )
    assert status == "COMPLETED_SUCCESS"

    runs = topology.instance.get_runs(filters=RunsFilter(tags={BACKFILL_ID_TAG: backfill_id}))
    assert runs and all(run.status == DagsterRunStatus.SUCCESS for run in runs)
    assert all(run.tags.get("dagster/from_ui") == "true" and _ran_in_one_process(topology, run.run_id) for run in runs)
    checks = _check_evaluations(topology, [run.run_id for run in runs])
    day_checks = {name for name, partition in checks if partition is not None}  # not those of the whole table
    assert {"no_object_unaccounted", "no_conflicting_rows", "hourly_matches_measurements"} <= day_checks
    counts = set()
    for day, (good, bad) in uploaded.items():
        statuses, rows = _day_state(topology, day)
        assert statuses == Counter({"loaded": len(good), "rejected": len(bad)})
        assert rows == len(good)
        (record,) = topology.instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey("measurements"), asset_partitions=[day.isoformat()]), limit=1
        ).records
        assert record.run_id in {run.run_id for run in runs}
        metadata = {key: value.value for key, value in record.asset_materialization.metadata.items()}
        assert (metadata["dagster/row_count"], metadata["inserted"], metadata["rejected"]) == (rows, len(good), len(bad))
        counts.add(rows)
        for name in day_checks:
            assert (name, day.isoformat()) in checks, f"{name} has no result of its own for {day}"
        for name in ("no_object_unaccounted", "no_conflicting_rows", "hourly_matches_measurements"):
            assert checks[(name, day.isoformat())] is True, f"{name} failed for {day}"
    assert len(counts) == len(days), "each day shows its own row count"


def test_the_ui_launch_benchmark_runs_small_against_this_topology(topology, tmp_path):
    """bench/ui_launch.py --attach (the benchmark of BENCHMARKS.md, "A day launched from the UI"),
    once with 14 objects: the UI's "Materialize all" of today runs Dagster's asset job in one process."""
    json_out = tmp_path / "ui_launch.json"
    command = [
        sys.executable,
        str(REPO / "bench" / "ui_launch.py"),
        "--attach",
        "--objects",
        "14",
        "--repeat",
        "1",
        "--paths",
        "asset_job",
        "--json-out",
        str(json_out),
    ]
    env = {**topology.env, "HEIMDALL_DAGSTER_URL": topology.url}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)

    assert done.returncode == 0, done.stderr[-3000:]
    last = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(
        r"ui_launch_objects=14 asset_job_running_s=[0-9.]+ backfill_running_s=nan "
        r"ingest_job_running_s=nan executors=in_process",
        last,
    ), last
    (run,) = json.loads(json_out.read_text())["runs"]["asset_job"]
    assert run["job"] == "__ASSET_JOB" and run["executor"] == "in_process"
    assert run["tags"][INGEST_DAY_TAG] == datetime.now(UTC).date().isoformat()
    assert 0 < run["running"] <= run["run"]
    assert {"minio_metadata", "measurements", "measurements_hourly"} <= set(run["steps"])
    assert list(tmp_path.iterdir()) == [json_out]
