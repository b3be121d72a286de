"""The Celery task `heimdall_pipeline.save_measurements`, run by a real `celery worker` process.

Every test with a worker runs on both brokers of `make up`: RabbitMQ (AMQP, Heimdall's broker) and
Redis, with Redis as the result backend. One solo-pool worker per broker, on a queue of its own;
its database URL goes through a TCP proxy that the outage test stops and starts. Tasks are sent by
name from a Celery app that never imports heimdall_pipeline, as Heimdall sends them.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from celery import Celery

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.core.settings import ConfigError
from heimdall_pipeline.worker.celery_app import TASK_NAME, CelerySettings, retry_delay, save_measurements
from heimdall_pipeline_tests.brokers import BROKERS, PersistentRedis, PrivateRabbitMQ, devstack_broker_urls
from heimdall_pipeline_tests.measurement_rows import heimdall_acquisition
from heimdall_pipeline_tests.tcp_proxy import TcpProxy

# One xdist worker runs the whole module: one Celery worker process, one proxy.
pytestmark = pytest.mark.xdist_group("celery_worker")

REPO = Path(__file__).resolve().parents[2]
WORKER_COMMAND = Path(sys.executable).parent / "heimdall-celery-worker"


def _rows(database_url: str, task_id: str) -> list[int]:
    with connect(database_url, autocommit=False) as conn:
        return [
            r[0] for r in conn.execute("SELECT websdr_id FROM measurements WHERE task_id = %s ORDER BY websdr_id", (task_id,))
        ]


# --- without a worker -------------------------------------------------------------------------


def test_the_task_is_registered_by_its_explicit_name_and_acknowledged_late():
    assert TASK_NAME == "heimdall_pipeline.save_measurements"
    assert save_measurements.name == TASK_NAME
    assert save_measurements.acks_late is True
    assert save_measurements.reject_on_worker_lost is True


def test_retry_delays_grow_exponentially_with_jitter_and_stop_at_the_cap():
    rng = random.Random(7)
    for retries in range(12):
        ceiling = min(300.0, 2.0 * 2**retries)
        delays = [retry_delay(retries, 2.0, 300.0, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), retries
        assert len(set(delays)) > 100  # jittered: workers that failed together spread out
    assert retry_delay(10_000, 2.0, 300.0, rng) <= 300.0  # no overflow however many retries


def test_celery_settings_fail_in_one_line_naming_the_variable():
    with pytest.raises(ConfigError, match=r"^HEIMDALL_CELERY_BROKER_URL is not set: "):
        CelerySettings.from_env({})
    with pytest.raises(ConfigError, match=r"^HEIMDALL_CELERY_MAX_RETRIES must be a whole number >= 0, got 'many'$"):
        CelerySettings.from_env({"HEIMDALL_CELERY_BROKER_URL": "redis://127.0.0.1:1/0", "HEIMDALL_CELERY_MAX_RETRIES": "many"})
    with pytest.raises(ConfigError, match=r"^HEIMDALL_CELERY_RETRY_BACKOFF_MAX_SECONDS must be a number >= 0, got 'inf'$"):
        CelerySettings.from_env(
            {"HEIMDALL_CELERY_BROKER_URL": "redis://127.0.0.1:1/0", "HEIMDALL_CELERY_RETRY_BACKOFF_MAX_SECONDS": "inf"}
        )
    with pytest.raises(ConfigError, match=r"^HEIMDALL_CELERY_RESULT_BACKEND must be a URL"):
        CelerySettings.from_env(
            {"HEIMDALL_CELERY_BROKER_URL": "redis://127.0.0.1:1/0", "HEIMDALL_CELERY_RESULT_BACKEND": "redis"}
        )
    settings = CelerySettings.from_env({"HEIMDALL_CELERY_BROKER_URL": "amqp://guest:guest@rabbitmq:5672//"})
    assert (settings.result_backend, settings.max_retries, settings.retry_backoff_seconds) == (None, 10, 2.0)


def test_the_worker_command_without_a_broker_says_so_in_one_line():
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEIMDALL_CELERY_")}
    done = subprocess.run([str(WORKER_COMMAND)], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "heimdall-celery-worker: configuration error: HEIMDALL_CELERY_BROKER_URL is not set: Heimdall's Celery broker "
        "(amqp://... for RabbitMQ, redis://... for Redis); `make up` writes the local RabbitMQ's to .devstack/env"
    ]


def test_importing_the_task_module_imports_neither_dagster_nor_pandas_matplotlib_pyarrow():
    probe = (
        "import json, sys; import heimdall_pipeline.worker.celery_app; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('dagster', 'pandas', 'matplotlib', 'pyarrow'))))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == []


# --- a real worker process --------------------------------------------------------------------


class Worker:
    def __init__(self, process: subprocess.Popen, log: Path, queue: str, nodename: str, proxy: TcpProxy):
        self.process, self.log, self.queue, self.nodename, self.proxy = process, log, queue, nodename, proxy

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture(scope="module", params=BROKERS)
def broker_urls(request) -> tuple[str, str]:
    """(broker, result backend): each worker test runs once on RabbitMQ and once on Redis."""
    return devstack_broker_urls(request.param)


def _heimdall_app(broker_urls: tuple[str, str], **conf) -> Celery:
    """Heimdall's side: a Celery app that knows the task by name only."""
    app = Celery("heimdall_backend", broker=broker_urls[0], backend=broker_urls[1], set_as_current=False)
    app.conf.update(task_serializer="json", result_serializer="json", accept_content=["json"], **conf)
    return app


@pytest.fixture(scope="module")
def heimdall(broker_urls) -> Celery:
    app = _heimdall_app(broker_urls)
    yield app
    app.close()


def _start_worker(
    heimdall: Celery, database_url: str, log: Path, proxy: TcpProxy | None, *pool: str, broker_urls: tuple[str, str]
) -> Worker:
    """`heimdall-celery-worker` in a process of its own, on a queue of its own, once it answers a ping."""
    broker, backend = broker_urls
    suffix = uuid.uuid4().hex[:10]
    queue, nodename = f"heimdall-test-{suffix}", f"heimdall-test-{suffix}@localhost"
    env = {
        **os.environ,
        "HEIMDALL_DATABASE_URL": database_url,
        "HEIMDALL_CELERY_BROKER_URL": broker,
        "HEIMDALL_CELERY_RESULT_BACKEND": backend,
        # Short backoff so the outage test takes seconds: 0.2, 0.4, 0.8, 1, 1, ... (before jitter).
        "HEIMDALL_CELERY_RETRY_BACKOFF_SECONDS": "0.2",
        "HEIMDALL_CELERY_RETRY_BACKOFF_MAX_SECONDS": "1",
        "HEIMDALL_CELERY_MAX_RETRIES": "30",
    }
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [
                str(WORKER_COMMAND),
                *pool,
                "--loglevel",
                "INFO",
                "-Q",
                queue,
                "-n",
                nodename,
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=REPO,
        )
    worker = Worker(process, log, queue, nodename, proxy)
    deadline = time.monotonic() + 60
    while not heimdall.control.ping(destination=[nodename], timeout=0.5):
        if process.poll() is not None or time.monotonic() > deadline:
            _stop_worker(worker)
            pytest.fail(f"the Celery worker did not come up (exit {process.poll()}):\n{worker.log_text()[-3000:]}")
    return worker


def _stop_worker(worker: Worker) -> None:
    worker.process.send_signal(signal.SIGTERM)  # warm shutdown
    try:
        worker.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        worker.process.kill()
        worker.process.wait(timeout=5)


@pytest.fixture(scope="module")
def worker(database_url, heimdall, broker_urls, tmp_path_factory) -> Worker:
    """A solo-pool worker whose database URL goes through a proxy the outage test can stop."""
    db = urlsplit(database_url)
    proxy = TcpProxy(db.hostname, db.port)
    proxy.start()
    proxied_url = urlunsplit(db._replace(netloc=f"{db.username}:{db.password}@127.0.0.1:{proxy.port}"))
    try:
        handle = _start_worker(
            heimdall,
            proxied_url,
            tmp_path_factory.mktemp("celery") / "worker.log",
            proxy,
            "--pool",
            "solo",
            broker_urls=broker_urls,
        )
        yield handle
        _stop_worker(handle)
    finally:
        proxy.stop()


def _send(heimdall: Celery, worker: Worker, acquisition_id: str, measurements, **options):
    return heimdall.send_task(TASK_NAME, args=[acquisition_id, measurements], queue=worker.queue, **options)


def _result(async_result, worker: Worker, timeout: float = 30) -> dict:
    try:
        return async_result.get(timeout=timeout)
    except Exception:
        print(worker.log_text()[-5000:])
        raise


def test_a_task_sent_by_name_stores_the_rows(heimdall, worker, clean_database_url):
    task_id = str(uuid.uuid4())
    result = _result(_send(heimdall, worker, task_id, heimdall_acquisition(task_id)), worker)
    assert result == {
        "status": "SUCCESS",
        "retryable": False,
        "measurements_count": 7,
        "inserted": 7,
        "duplicate": 0,
        "present": 0,
        "conflicts": [],
        "rejected": [],
        "rejected_count": 0,
        "retries": 0,
        "successful": 7,
        "failed": 0,
        "message": "Stored 7/7 measurements",
        "task_id": task_id,
    }
    assert _rows(clean_database_url, task_id) == list(range(1, 8))


def test_a_message_shaped_exactly_like_heimdalls_call_is_stored_and_answered(heimdall, worker, clean_database_url):
    """Heimdall's chain sends (task_id, measurements, s3_paths): three arguments, s3_paths keyed by
    websdr_id (strings, through JSON). Before, the two-argument task raised TypeError."""
    task_id = str(uuid.uuid4())
    measurements = heimdall_acquisition(task_id)
    s3_paths = {str(m["websdr_id"]): m.pop("iq_data_path") for m in measurements}
    sent = heimdall.send_task(TASK_NAME, args=[task_id, measurements, s3_paths], queue=worker.queue)
    result = _result(sent, worker)
    assert (result["status"], result["successful"], result["failed"]) == ("SUCCESS", 7, 0)
    assert result["message"] == "Stored 7/7 measurements" and result["task_id"] == task_id
    assert _rows(clean_database_url, task_id) == list(range(1, 8))


def test_a_redelivered_message_inserts_nothing_twice(heimdall, worker, clean_database_url):
    task_id = str(uuid.uuid4())
    message_id = str(uuid.uuid4())
    first = _result(_send(heimdall, worker, task_id, heimdall_acquisition(task_id), task_id=message_id), worker)
    heimdall.AsyncResult(message_id).forget()
    # The same message again (same Celery id, same arguments): what the broker redelivers when a
    # worker died after the rows were stored but before it acknowledged.
    again = _result(_send(heimdall, worker, task_id, heimdall_acquisition(task_id), task_id=message_id), worker)
    assert (first["status"], first["inserted"], first["duplicate"]) == ("SUCCESS", 7, 0)
    assert (again["status"], again["inserted"], again["duplicate"]) == ("SUCCESS", 0, 7)
    assert _rows(clean_database_url, task_id) == list(range(1, 8))
    assert worker.log_text().count(f"Task {TASK_NAME}[{message_id}] succeeded") == 2


def test_a_measurement_of_another_acquisition_is_rejected_and_the_rest_stored(heimdall, worker, clean_database_url):
    task_id, other = str(uuid.uuid4()), str(uuid.uuid4())
    measurements = heimdall_acquisition(task_id)
    measurements[2]["iq_data_path"] = f"s3://heimdall-raw-iq/sessions/{other}/websdr_3.npy"
    result = _result(_send(heimdall, worker, task_id, measurements), worker)
    assert (result["status"], result["retryable"], result["inserted"], result["retries"]) == ("PARTIAL_FAILURE", False, 6, 0)
    assert result["rejected"] == [
        {"index": 2, "reason": f"task_mismatch: iq_data_path names task {other!r}, not this acquisition's {task_id!r}"}
    ]
    assert _rows(clean_database_url, task_id) == [1, 2, 4, 5, 6, 7]


def test_invalid_input_fails_at_once_without_retries(heimdall, worker, clean_database_url):
    task_id = str(uuid.uuid4())
    result = _result(_send(heimdall, worker, task_id, {"not": "a list"}), worker)
    assert (result["status"], result["retryable"], result["retries"]) == ("FAILED", False, 0)
    assert "list" in result["error"]
    assert f"task {task_id!r}: retry" not in worker.log_text()


def _publish_raw(broker_url: str, queue: str, message_id: str, body: str) -> None:
    """A message of our task with a body of our own making, as a broken or hostile sender would send it."""
    from kombu import Connection

    headers = {
        "lang": "py",
        "task": TASK_NAME,
        "id": message_id,
        "root_id": message_id,
        "parent_id": None,
        "group": None,
        "retries": 0,
        "eta": None,
        "expires": None,
        "argsrepr": "(...)",
        "kwargsrepr": "{}",
    }
    with Connection(broker_url) as conn:
        conn.Producer().publish(
            body,
            routing_key=queue,
            exchange="",
            content_type="application/json",
            content_encoding="utf-8",
            headers=headers,
            serializer=None,
            delivery_mode=2,
        )


@pytest.mark.parametrize("body", ["deep", "truncated"])
def test_a_message_that_cannot_be_decoded_is_answered_failed_and_the_worker_goes_on(
    heimdall, worker, broker_urls, clean_database_url, body
):
    """Before: Celery logged CRITICAL and acknowledged the message; the caller got no answer at all."""
    task_id, message_id = str(uuid.uuid4()), str(uuid.uuid4())
    arguments = "[" * 200_000 + "]" * 200_000 if body == "deep" else '[{"websdr_id": 1'
    _publish_raw(broker_urls[0], worker.queue, message_id, f'[["{task_id}", {arguments}], {{}}, {{}}]')
    answer = _result(heimdall.AsyncResult(message_id), worker)
    assert (answer["status"], answer["retryable"], answer["task_id"]) == ("FAILED", False, task_id)
    assert answer["error"].startswith("the message body cannot be decoded as JSON: ")
    assert len(json.dumps(answer)) < 2000
    # The worker goes on with the next message.
    after = str(uuid.uuid4())
    assert _result(_send(heimdall, worker, after, heimdall_acquisition(after)), worker)["status"] == "SUCCESS"
    assert _rows(clean_database_url, task_id) == []


def test_a_database_outage_is_retried_with_backoff_until_the_database_is_back(heimdall, worker, clean_database_url):
    task_id = str(uuid.uuid4())
    worker.proxy.stop()  # the database is down: connections are refused
    try:
        sent = _send(heimdall, worker, task_id, heimdall_acquisition(task_id))
        deadline = time.monotonic() + 20
        while f"task {task_id!r}: retry 3 of 30" not in worker.log_text():
            assert time.monotonic() < deadline, worker.log_text()[-5000:]
            assert sent.state in ("PENDING", "RETRY"), (sent.state, sent.result)
            time.sleep(0.1)
        assert sent.state == "RETRY"
        assert _rows(clean_database_url, task_id) == []
    finally:
        worker.proxy.start()  # the database is back

    result = _result(sent, worker)
    assert (result["status"], result["inserted"]) == ("SUCCESS", 7)
    assert result["retries"] >= 3
    assert _rows(clean_database_url, task_id) == list(range(1, 8))
    retry_lines = [line for line in worker.log_text().splitlines() if f"task {task_id!r}: retry " in line]
    assert len(retry_lines) == result["retries"]
    assert all("cannot connect to" in line for line in retry_lines)
    delays = [float(line.split(" in ")[1].split(" s:")[0]) for line in retry_lines]
    assert all(min(1.0, 0.2 * 2**n) / 2 <= d <= min(1.0, 0.2 * 2**n) for n, d in enumerate(delays)), delays


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(child) for child in f.read().split()]


def test_a_pool_process_killed_mid_task_gives_its_message_back_and_the_rows_land_once(
    heimdall, broker_urls, clean_database_url, owner_database_url, tmp_path
):
    # prefork: the task runs in a child process; killing it is a worker lost mid-task.
    worker = _start_worker(
        heimdall,
        clean_database_url,
        tmp_path / "worker.log",
        None,
        "--pool",
        "prefork",
        "--concurrency",
        "1",
        broker_urls=broker_urls,
    )
    try:
        task_id = str(uuid.uuid4())
        [child] = _children(worker.process.pid)
        with connect(owner_database_url, autocommit=False) as lock:  # a transaction that holds the table
            lock.execute("LOCK TABLE measurements IN SHARE MODE")
            sent = _send(heimdall, worker, task_id, heimdall_acquisition(task_id))
            deadline = time.monotonic() + 30
            waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'measurements'::regclass"
            while lock.execute(waiting).fetchone()[0] == 0:  # the task's INSERT now waits on the lock
                assert time.monotonic() < deadline, worker.log_text()[-5000:]
                time.sleep(0.1)
            os.kill(child, signal.SIGKILL)
            deadline = time.monotonic() + 30
            while child in _children(worker.process.pid) or not _children(worker.process.pid):
                assert time.monotonic() < deadline, worker.log_text()[-5000:]
                time.sleep(0.1)
        # The lock is released: the killed child's transaction never commits; the message, given
        # back to the broker (acks_late, reject_on_worker_lost), runs again in the new child.
        result = _result(sent, worker)
    finally:
        _stop_worker(worker)
    assert (result["status"], result["inserted"], result["duplicate"]) == ("SUCCESS", 7, 0)
    assert _rows(clean_database_url, task_id) == list(range(1, 8))
    log = worker.log_text()
    assert "signal 9 (SIGKILL)" in log
    assert log.count(f"Task {TASK_NAME}[{sent.id}] received") == 2
    assert log.count(f"Task {TASK_NAME}[{sent.id}] succeeded") == 1


@pytest.mark.parametrize("kind", BROKERS)
def test_a_broker_killed_and_restarted_mid_task_loses_no_message(kind, clean_database_url, owner_database_url, tmp_path):
    """Before: the worker cancelled the task on losing the broker and remembered its id as revoked,
    so the message Redis gave back was discarded: 0 of 50 rows stored, task REVOKED. RabbitMQ gives
    the unacknowledged message back when the connection drops; it may run twice, storing once."""
    broker = PrivateRabbitMQ(tmp_path) if kind == "rabbitmq" else PersistentRedis(tmp_path)
    broker.start()
    # The results go to the devstack's Redis, which stays up: the broker is what this test kills.
    urls = (broker.url, devstack_broker_urls(kind)[1])
    heimdall = _heimdall_app(urls)
    # prefork, as Heimdall runs workers: the main process sees the broker go while a child runs the task.
    worker = _start_worker(
        heimdall, clean_database_url, tmp_path / "worker.log", None, "--pool", "prefork", "--concurrency", "1", broker_urls=urls
    )
    task_id = str(uuid.uuid4())
    try:
        with connect(owner_database_url, autocommit=False) as lock:  # the task's INSERT waits on this
            lock.execute("LOCK TABLE measurements IN SHARE MODE")
            fifty = [
                {**heimdall_acquisition(task_id)[i % 7], "timestamp_utc": f"2025-10-22T10:{i // 60:02d}:{i % 60:02d}Z"}
                for i in range(50)
            ]
            sent = _send(heimdall, worker, task_id, fifty)
            deadline = time.monotonic() + 30
            waiting = "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'measurements'::regclass"
            while lock.execute(waiting).fetchone()[0] == 0:
                assert time.monotonic() < deadline, worker.log_text()[-5000:]
                time.sleep(0.1)
            broker.kill()
            time.sleep(1)
            broker.start()
        result = _result(heimdall.AsyncResult(sent.id), worker, timeout=60)
        time.sleep(2)  # were the message given back and run again, it would have run by now
        final = heimdall.AsyncResult(sent.id).get(timeout=10)
    finally:
        _stop_worker(worker)
        heimdall.close()
        broker.kill()
    assert result["status"] == "SUCCESS" and result["measurements_count"] == 50
    assert final["status"] == "SUCCESS" and final["inserted"] + final["duplicate"] == 50
    assert len(_rows(clean_database_url, task_id)) == 50
    assert "revoked" not in worker.log_text().lower()


def test_our_worker_and_heimdalls_share_one_broker_and_lose_no_message(broker_urls, clean_database_url, tmp_path):
    """Each worker consumes its own default queue: ours HEIMDALL_CELERY_QUEUE (heimdall-pipeline),
    Heimdall's `celery`. On one queue each would discard the other's tasks as unknown (Celery 5.7)."""
    broker, backend = broker_urls
    suffix = uuid.uuid4().hex[:8]
    ours_queue, theirs_queue = f"heimdall-pipeline-{suffix}", f"celery-{suffix}"
    env = {
        **os.environ,
        "HEIMDALL_DATABASE_URL": clean_database_url,
        "HEIMDALL_CELERY_BROKER_URL": broker,
        "HEIMDALL_CELERY_RESULT_BACKEND": backend,
        "HEIMDALL_CELERY_QUEUE": ours_queue,
        "HEIMDALL_STANDIN_BROKER_URL": broker,
        "HEIMDALL_STANDIN_BACKEND": backend,
        "HEIMDALL_STANDIN_QUEUE": theirs_queue,
    }
    # Heimdall's app, configured as docs/integrating.md says: our task routed to our queue, its own
    # tasks to its default queue.
    heimdall = _heimdall_app(broker_urls, task_default_queue=theirs_queue, task_routes={TASK_NAME: {"queue": ours_queue}})
    ours_log, theirs_log = tmp_path / "ours.log", tmp_path / "theirs.log"
    common = ["--loglevel", "INFO", "--pool", "solo", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with open(ours_log, "wb") as out1, open(theirs_log, "wb") as out2:
        ours = subprocess.Popen(
            [str(WORKER_COMMAND), *common, "-n", f"ours-{suffix}@localhost"],  # no -Q: its default
            env=env,
            stdout=out1,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
        theirs = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "heimdall_pipeline_tests.heimdall_standin",
                "worker",
                *common,
                "-n",
                f"theirs-{suffix}@localhost",
            ],
            env=env,
            stdout=out2,
            stderr=subprocess.STDOUT,
            cwd=REPO,
        )
    try:
        deadline = time.monotonic() + 60
        while (
            not heimdall.control.ping(destination=[f"ours-{suffix}@localhost", f"theirs-{suffix}@localhost"], timeout=0.5)
            or len(heimdall.control.ping(destination=[f"ours-{suffix}@localhost", f"theirs-{suffix}@localhost"], timeout=0.5)) < 2
        ):
            assert time.monotonic() < deadline and ours.poll() is None and theirs.poll() is None, (
                ours_log.read_text(errors="replace")[-2000:] + theirs_log.read_text(errors="replace")[-2000:]
            )
        sent_ours, sent_theirs = [], []
        for _ in range(10):
            task_id = str(uuid.uuid4())
            sent_ours.append((task_id, heimdall.send_task(TASK_NAME, args=[task_id, heimdall_acquisition(task_id)])))
            sent_theirs.append(heimdall.send_task("src.tasks.acquire_iq.health_check_websdrs"))
        for task_id, sent in sent_ours:
            assert sent.get(timeout=60)["status"] == "SUCCESS"
            assert _rows(clean_database_url, task_id) == list(range(1, 8))
        assert [sent.get(timeout=60) for sent in sent_theirs] == [{"heimdall": "ran"}] * 10
    finally:
        heimdall.close()
        for process in (ours, theirs):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
    for log in (ours_log, theirs_log):
        assert "unregistered task" not in log.read_text(errors="replace").lower()
