"""Benchmark plumbing: fresh databases and buckets on the `make up` services, row files for
server-side COPY, and the synthetic 1M-row day for the DB stage.
"""

from __future__ import annotations

import contextlib
import csv
import os
import random
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.devtools.sample_data import FREQUENCIES_MHZ, RECEIVER_IDS, SAMPLE_RATE_KHZ, SAMPLES_COUNT, SampleObject
from heimdall_pipeline.ingest.measurement import COLUMNS, parse_metadata_object
from heimdall_pipeline.schema.migrations import migrate

BENCH_SQL_DIR = Path(__file__).resolve().parent / "sql"


def bench_sql(name: str) -> str:
    return (BENCH_SQL_DIR / name).read_text(encoding="utf-8")


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


class Timer:
    def __enter__(self) -> Timer:
        self.started = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self.started


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


@contextlib.contextmanager
def fresh_database(admin_url: str, label: str) -> Iterator[str]:
    """A new, migrated database (measurements hypertable included), dropped afterwards."""
    name = f"heimdall_bench_{re.sub(r'[^a-z0-9]', '_', label)}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_database(admin_url, name)
    try:
        migrate(url)
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def peer_database_url(url: str, admin_url: str, password_url: str | None) -> str:
    """`url` (a fresh database) as dlt may take it. dlt's postgres credentials require a password,
    and the local cluster's admin URL has none (it trusts loopback): then the peer connects as the
    role of `password_url` (the owner role's, which has one), given the database to write in."""
    if urlsplit(url).password:
        return url
    if not (password_url and urlsplit(password_url).password and urlsplit(password_url).username):
        raise RuntimeError(
            "the dlt peer needs a database URL with a password: HEIMDALL_DATABASE_URL has none, "
            "and HEIMDALL_MIGRATE_DATABASE_URL (the owner role's) is unset or has none either"
        )
    name, role = urlsplit(url).path.lstrip("/"), urlsplit(password_url).username
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(sql.Identifier(name), sql.Identifier(role)))
    return _with_database(password_url, name)


@contextlib.contextmanager
def fresh_bucket(s3, label: str) -> Iterator[str]:
    name = f"heimdall-bench-{label}-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    try:
        yield name
    finally:
        _delete_bucket(s3, name)


def _delete_bucket(s3, bucket: str) -> None:
    paginator = s3.get_paginator("list_objects_v2")
    pages = [[{"Key": o["Key"]} for o in page.get("Contents", ())] for page in paginator.paginate(Bucket=bucket)]
    with ThreadPoolExecutor(4) as pool:
        list(
            pool.map(
                lambda keys: s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True}),
                [keys for keys in pages if keys],
            )
        )
    s3.delete_bucket(Bucket=bucket)


def rows_of(bucket: str, objects: Sequence[SampleObject]) -> list[tuple]:
    """The measurement rows the objects hold, parsed by the library (outside any timing)."""
    return [parse_metadata_object(bucket, o.key, o.body).as_row() for o in objects]


def synthetic_rows(day: date, count: int, seed: int = 0) -> list[tuple]:
    """`count` already-parsed rows (COLUMNS order) spread over one UTC day, 7 receivers a session."""
    rng = random.Random(seed)
    start = datetime.combine(day, clock(0), tzinfo=UTC)
    sessions = -(-count // len(RECEIVER_IDS))
    step = 86_000 / sessions
    rows: list[tuple] = []
    for index in range(sessions):
        task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        started = start + timedelta(seconds=index * step)
        frequency = rng.choice(FREQUENCIES_MHZ)
        for websdr_id in RECEIVER_IDS:
            if len(rows) == count:
                break
            snr = round(rng.gauss(14.0, 5.0), 1)
            offset = round(rng.gauss(0.0, 8.0), 1)
            power = round(-65.5 + snr, 1)
            rows.append(
                (
                    task_id,
                    websdr_id,
                    frequency,
                    SAMPLE_RATE_KHZ,
                    SAMPLES_COUNT,
                    started + timedelta(seconds=websdr_id * 0.35),
                    snr,
                    offset,
                    power,
                    f"s3://heimdall-raw-iq/sessions/{task_id}/websdr_{websdr_id}.npy",
                )
            )
    return rows


@contextlib.contextmanager
def server_readable_csv(rows: Sequence[Sequence]) -> Iterator[str]:
    """The rows as a CSV file the PostgreSQL server user can read (for `COPY … FROM '<file>'`)."""
    handle, path = tempfile.mkstemp(prefix="heimdall-bench-", suffix=".csv", dir="/tmp")
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8") as file:
            writer = csv.writer(file)
            for row in rows:
                writer.writerow(["" if v is None else (v.isoformat() if isinstance(v, datetime) else v) for v in row])
        os.chmod(path, 0o644)
        yield path
    finally:
        os.unlink(path)


def server_copy(database_url: str, path: str) -> float:
    """Seconds for one server-side `COPY measurements (…) FROM '<path>'` (committed)."""
    statement = sql.SQL("COPY measurements ({}) FROM {} (FORMAT csv)").format(
        sql.SQL(", ").join(map(sql.Identifier, COLUMNS)), sql.Literal(path)
    )
    with connect(database_url, autocommit=False) as conn:
        with Timer() as timer:
            conn.execute(statement)
            conn.commit()
    return timer.seconds


def count_rows(database_url: str, table: str = "measurements") -> int:
    with connect(database_url, autocommit=False) as conn:
        return conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))).fetchone()[0]
