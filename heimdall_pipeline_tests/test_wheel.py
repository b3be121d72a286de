"""The package as an operator installs it: the wheel, in a fresh virtualenv outside the checkout.

scripts/install_wheel.sh builds and installs it (the Dockerfile runs the same commands); from that
virtualenv, with another working directory, heimdall-migrate sets up a new database, the Dagster
CLI loads one partition from a bucket and the Celery worker (the `worker` extra, which the image
installs too) stores Heimdall's call. Nothing is imported from the checkout.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from celery import Celery

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.devtools.sample_data import bad_objects, generate_day, upload
from heimdall_pipeline_tests.brokers import devstack_broker_urls
from heimdall_pipeline_tests.conftest import TEST_DB_SCHEMA, _with_database

# Builds the wheel and installs it with its dependencies from PyPI: slow on a loaded machine.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

REPO = Path(__file__).resolve().parent.parent


def _clean_env(**settings: str) -> dict[str, str]:
    """The environment of an operator's shell: no PYTHONPATH, no DAGSTER_HOME, only the settings given."""
    keep = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR"} | {k for k in os.environ if k.startswith("PIP_")}
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(settings)
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: float = 300) -> str:
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{cmd[0]} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


@pytest.fixture
def installed_venv(tmp_path_factory) -> Path:
    """The wheel built from this checkout, installed into a new virtualenv in a temporary directory."""
    work = tmp_path_factory.mktemp("wheel")
    env = _clean_env(PYTHON=sys.executable)
    script = str(REPO / "scripts" / "install_wheel.sh")
    _run([script, "build", str(work / "dist")], cwd=work, env=env)
    _run([script, "install", str(work / "dist"), str(work / "venv"), "worker"], cwd=work, env=env, timeout=600)
    return work / "venv"


@pytest.fixture
def fresh_database_url(admin_database_url):
    """A new, empty database (not migrated): heimdall-migrate from the wheel must build the schema."""
    name = f"heimdall_wheel_{uuid.uuid4().hex[:8]}"
    with connect(admin_database_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield _with_database(admin_database_url, name)
    with connect(admin_database_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_installed_wheel_carries_its_sql_migrates_a_new_database_and_loads_a_partition(
    installed_venv, fresh_database_url, s3_endpoint_url, s3, bucket, tmp_path
):
    today = datetime.now(UTC).date()
    good, bad = generate_day(today, sessions=6), bad_objects(today)[:3]
    upload(s3, bucket, good + bad)
    env = _clean_env(
        HEIMDALL_DATABASE_URL=fresh_database_url,
        HEIMDALL_S3_ENDPOINT_URL=s3_endpoint_url,
        HEIMDALL_S3_BUCKET=bucket,
        AWS_ACCESS_KEY_ID="heimdall",
        AWS_SECRET_ACCESS_KEY="heimdall-secret",
        AWS_REGION="us-east-1",
        HEIMDALL_DB_SCHEMA=TEST_DB_SCHEMA,  # the operator's setting reaches heimdall-migrate and dagster
    )
    python = str(installed_venv / "bin" / "python")

    # The wheel carries every SQL file of the checkout, as files (not the symlink).
    site_packages = installed_venv / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    wheel_sql = site_packages / "heimdall_pipeline" / "sql"
    assert not wheel_sql.is_symlink()
    assert sorted(p.relative_to(wheel_sql) for p in wheel_sql.rglob("*.sql")) == sorted(
        p.relative_to(REPO / "sql") for p in (REPO / "sql").rglob("*.sql")
    )
    assert not (site_packages / "heimdall_pipeline_tests").exists()

    location = _run([python, "-c", "import heimdall_pipeline; print(heimdall_pipeline.__file__)"], tmp_path, env)
    assert Path(location.strip()).is_relative_to(installed_venv)

    migrated = _run([str(installed_venv / "bin" / "heimdall-migrate")], tmp_path, env)
    assert "applied 0001_measurements.sql" in migrated

    # Discovery first (what the sensor's reconciliation does a slice at a time): a run takes its
    # day's objects from the ledger, never from a listing.
    reconciled = _run([str(installed_venv / "bin" / "heimdall-reconcile")], tmp_path, env)
    assert f"{len(good) + len(bad)} new and 0 changed" in reconciled

    _run(
        [
            str(installed_venv / "bin" / "dagster"),
            "asset",
            "materialize",
            "-m",
            "heimdall_pipeline.definitions",
            "--select",
            "minio_metadata,measurements,measurements_hourly",
            "--partition",
            today.isoformat(),
        ],
        tmp_path,
        env,
    )
    with connect(fresh_database_url, autocommit=False) as conn:
        statuses = dict(conn.execute("SELECT status, count(*) FROM ingest_ledger GROUP BY status").fetchall())
        rows = conn.execute("SELECT count(*) FROM measurements").fetchone()[0]
        hourly = conn.execute("SELECT sum(measurement_count) FROM measurements_hourly").fetchone()[0]
    assert statuses == {"loaded": len(good), "rejected": len(bad)}
    assert rows == len(good)
    assert hourly == len(good)

    # The worker of the same install, on the devstack's RabbitMQ as Heimdall's broker: Heimdall's call,
    # sent by name, is stored.
    broker, backend = devstack_broker_urls("rabbitmq")
    queue = f"heimdall-wheel-{uuid.uuid4().hex[:8]}"
    worker_env = {
        **env,
        "HEIMDALL_CELERY_BROKER_URL": broker,
        "HEIMDALL_CELERY_RESULT_BACKEND": backend,
        "HEIMDALL_CELERY_QUEUE": queue,
    }
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:
        worker = subprocess.Popen(
            [
                str(installed_venv / "bin" / "heimdall-celery-worker"),
                "--pool",
                "solo",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=tmp_path,
            env=worker_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    heimdall = Celery("heimdall_backend", broker=broker, backend=backend, set_as_current=False)
    heimdall.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_routes={"heimdall_pipeline.save_measurements": {"queue": queue}},
    )
    try:
        task_id = str(uuid.uuid4())
        measurement = {
            "websdr_id": 1,
            "frequency_mhz": 145.5,
            "sample_rate_khz": 12.5,
            "samples_count": 125000,
            "timestamp_utc": f"{today.isoformat()}T10:30:00Z",
            "metrics": {"snr_db": 12.0},
        }
        answer = heimdall.send_task("heimdall_pipeline.save_measurements", args=[task_id, [measurement], None]).get(timeout=90)
    finally:
        heimdall.close()
        worker.terminate()
        worker.wait(timeout=30)
    assert (answer["status"], answer["successful"]) == ("SUCCESS", 1), log.read_text(errors="replace")[-3000:]
