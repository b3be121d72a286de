"""Fixtures for the real services.

TimescaleDB: the server from `make up`; every pytest worker gets a fresh database of its own,
created by the admin (HEIMDALL_TEST_ADMIN_DATABASE_URL, used by these fixtures only), owned by the
owner role, migrated and granted as the owner, dropped at the end. Tests run as the roles the
deployment uses: `database_url` is the pipeline role's (DML only), `owner_database_url` the
owner's (migrations, TRUNCATE between tests), `reader_database_url` the read-only role's.

Schema: everything of ours lives in HEIMDALL_DB_SCHEMA (`make test` runs the whole suite in
`heimdall`, beside an empty public; `make test HEIMDALL_DB_SCHEMA=public` in public). The
fixtures migrate and grant into it, and every test connects through heimdall_pipeline.core.db.connect,
which sets the search_path from the same variable, so no test names a schema.

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
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from psycopg import sql

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.core.object_store import make_s3_client
from heimdall_pipeline.core.settings import db_schema
from heimdall_pipeline.schema.grants import apply_grants
from heimdall_pipeline.schema.migrations import MIGRATIONS_DIR, migrate, timescaledb_edition

# The schema the suite runs in (HEIMDALL_DB_SCHEMA; public when unset, as in production).
TEST_DB_SCHEMA = db_schema()

MOTO_ACCOUNT_ID = "123456789012"
TEST_TABLES = (
    "measurements",
    "ingest_ledger",
    "measurements_hourly",
    "measurement_archives",
    "measurement_archive_writes",
    "iq_metrics",
)


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def _user(url: str) -> str:
    return urlsplit(url).username or ""


@pytest.fixture(scope="session")
def admin_database_url() -> str:
    """A superuser URL: creates and drops the per-worker databases, nothing else."""
    url = os.environ.get("HEIMDALL_TEST_ADMIN_DATABASE_URL")
    if not url:
        pytest.fail("HEIMDALL_TEST_ADMIN_DATABASE_URL is not set: run the tests with `make test`")
    return url


@dataclass(frozen=True)
class RoleUrls:
    """The roles' URLs on the server (database part to be replaced)."""

    owner: str
    pipeline: str
    reader: str
    archiver: str


@pytest.fixture(scope="session")
def role_urls() -> RoleUrls:
    pipeline = os.environ.get("HEIMDALL_DATABASE_URL")
    if not pipeline:
        pytest.fail("HEIMDALL_DATABASE_URL is not set: run the tests with `make test`")
    return RoleUrls(
        owner=os.environ.get("HEIMDALL_MIGRATE_DATABASE_URL") or pipeline,
        pipeline=pipeline,
        reader=os.environ.get("HEIMDALL_READER_DATABASE_URL") or pipeline,
        archiver=os.environ.get("HEIMDALL_ARCHIVER_DATABASE_URL") or pipeline,
    )


def create_role_database(admin_url: str, roles: RoleUrls, name: str, migrations_dir: Path = MIGRATIONS_DIR) -> None:
    """A database as `make up` provisions one: owned by the owner role, closed to PUBLIC, the
    extension created by the admin; then migrated and granted by the owner, as heimdall-migrate does."""
    with connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(_user(roles.owner))))
        admin.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(sql.Identifier(name)))
    with connect(_with_database(admin_url, name), autocommit=True) as admin:
        admin.execute("SET client_min_messages = warning")
        admin.execute("CREATE EXTENSION IF NOT EXISTS timescaledb SCHEMA public")
    owner_url = _with_database(roles.owner, name)
    migrate(owner_url, migrations_dir)
    with connect(owner_url) as owner:
        apply_grants(owner, _user(roles.pipeline), _user(roles.reader), archiver_role=_user(roles.archiver))


def drop_database(admin_url: str, name: str) -> None:
    with connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def worker_database(admin_database_url, role_urls, worker_id) -> str:
    """The name of a fresh, migrated, granted database for this pytest worker."""
    name = f"heimdall_test_{worker_id}_{uuid.uuid4().hex[:8]}"
    create_role_database(admin_database_url, role_urls, name)
    yield name
    drop_database(admin_database_url, name)


@pytest.fixture(scope="session")
def database_url(worker_database, role_urls) -> str:
    """The worker's database as the pipeline role: what Dagster runs and the worker API use."""
    return _with_database(role_urls.pipeline, worker_database)


@pytest.fixture(scope="session")
def owner_database_url(worker_database, role_urls) -> str:
    """The worker's database as the owner role (schema changes, TRUNCATE)."""
    return _with_database(role_urls.owner, worker_database)


@pytest.fixture(scope="session")
def archiver_database_url(worker_database, role_urls) -> str:
    """The worker's database as the archiver role (retention: archive records, dropping days)."""
    return _with_database(role_urls.archiver, worker_database)


@pytest.fixture(scope="session")
def reader_database_url(worker_database, role_urls) -> str:
    """The worker's database as the read-only role (reports)."""
    return _with_database(role_urls.reader, worker_database)


@pytest.fixture(scope="session")
def edition(database_url) -> str:
    """The server's TimescaleDB edition: `apache` here, `timescale` (Community) in production.
    Tests assert what this edition must do, so the suite passes against either."""
    with connect(database_url) as conn:
        return timescaledb_edition(conn)


@pytest.fixture
def clean_database_url(database_url, owner_database_url) -> str:
    """The worker's database with the data tables emptied (schema and receivers kept), as the
    pipeline role. TRUNCATE is the owner's: the pipeline never needs it."""
    with connect(owner_database_url, autocommit=True) as conn:
        conn.execute(f"TRUNCATE {', '.join(TEST_TABLES)}")
    return database_url


# The receiver list over time (migration 0016). Not in TEST_TABLES: every test needs the seven
# receivers, so a test that changes the list restores it (stations_restored).
STATION_TABLES = ("websdr_station_versions", "websdr_station_changes")


@pytest.fixture
def stations_restored(owner_database_url) -> str:
    """The owner's URL (only the owner may change the receiver list); the list and its change log
    are put back as they were after the test. Rows travel as JSON: -infinity has no Python datetime."""
    with connect(owner_database_url) as conn:
        saved = {
            table: [row for (row,) in conn.execute(f"SELECT row_to_json(t)::text FROM {table} AS t")] for table in STATION_TABLES
        }
    yield owner_database_url
    with connect(owner_database_url, autocommit=False) as conn:  # one transaction
        for table in STATION_TABLES:
            conn.execute(f"DELETE FROM {table}")
            with conn.cursor() as cur:
                cur.executemany(
                    f"INSERT INTO {table} OVERRIDING SYSTEM VALUE SELECT * FROM json_populate_record(NULL::{table}, %s::json)",
                    [(row,) for row in saved[table]],
                )


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
def bucket(s3, monkeypatch) -> str:
    """A new empty bucket for one test, the configured raw bucket (HEIMDALL_S3_BUCKET) while it runs:
    the worker API accepts recordings only there."""
    name = f"heimdall-test-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    monkeypatch.setenv("HEIMDALL_S3_BUCKET", name)
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
    with connect(admin_database_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    home = tmp_path_factory.mktemp("dagster_home")
    (home / "dagster.yaml").symlink_to(os.path.join(REPO, "dagster.yaml"))
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", _with_database(admin_database_url, name))
    yield home
    with connect(admin_database_url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
