"""Fixtures for the real services.

TimescaleDB: the server from `make up` (or HEIMDALL_DATABASE_URL); every pytest worker gets a
fresh database of its own, migrated, dropped at the end.

S3: moto's S3 server, the same one `make up` runs, started here in-process on a loopback port
and reached over HTTP through boto3 like MinIO. In-process because tests must set objects'
LastModified (late uploads, past days): S3 servers set it themselves and moto offers no clock,
so `backdate()` edits the server's stored object instead.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from heimdall_pipeline.db import connect
from heimdall_pipeline.migrations import migrate
from heimdall_pipeline.object_store import make_s3_client

MOTO_ACCOUNT_ID = "123456789012"
TEST_TABLES = ("measurements", "ingest_ledger", "measurements_hourly", "measurement_archives")


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def admin_database_url() -> str:
    url = os.environ.get("HEIMDALL_DATABASE_URL")
    if not url:
        pytest.fail("HEIMDALL_DATABASE_URL is not set: run the tests with `make test`")
    return url


@pytest.fixture(scope="session")
def database_url(admin_database_url, worker_id) -> str:
    """A fresh, migrated database for this pytest worker."""
    name = f"heimdall_test_{worker_id}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_database_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    url = _with_database(admin_database_url, name)
    migrate(url)
    yield url
    with psycopg.connect(admin_database_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def clean_database_url(database_url) -> str:
    """The worker's database with the data tables emptied (schema and receivers kept)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TEST_TABLES)}")
    return database_url


@pytest.fixture
def db(clean_database_url):
    with connect(clean_database_url) as conn:
        yield conn


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def s3_endpoint_url() -> str:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one log line per request otherwise
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "heimdall")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "heimdall-secret")
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3(s3_endpoint_url):
    return make_s3_client(s3_endpoint_url, "us-east-1", "heimdall", "heimdall-secret")


@pytest.fixture
def bucket(s3) -> str:
    """A new empty bucket for one test."""
    name = f"heimdall-test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


def backdate(bucket: str, key: str, last_modified: datetime) -> None:
    """Set an object's LastModified on the in-process S3 server (a late or historical upload)."""
    from moto.s3.models import s3_backends

    stored = s3_backends[MOTO_ACCOUNT_ID]["aws"].buckets[bucket].keys[key]
    stored.last_modified = last_modified.replace(tzinfo=None)


REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture
def dagster_home(admin_database_url, tmp_path_factory, monkeypatch):
    """A persistent Dagster instance of its own: the repository's dagster.yaml in a DAGSTER_HOME
    and a new PostgreSQL database for its storage (DAGSTER_HOME / DAGSTER_POSTGRES_URL set)."""
    name = f"dagster_test_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_database_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").symlink_to(os.path.join(REPO, "dagster.yaml"))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", _with_database(admin_database_url, name))
    yield home
    with psycopg.connect(admin_database_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
