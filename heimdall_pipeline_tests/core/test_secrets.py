"""No error path prints a password, whatever characters it holds ([security] #3).

A password a URL must encode (a space, ', /, #, ?, @) is refused by the settings check in one line
that says how to encode it and never shows it; masking takes the password parsed from the URL, and
never changes a word that merely contains a short one. Then a sweep: after failing runs and failing
CLIs with a distinctive password, neither the Dagster instance's database, nor DAGSTER_HOME, nor
any output holds it.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from dagster import DagsterInstance, materialize

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.core.settings import ConfigError, Settings, redact
from heimdall_pipeline.worker.api import save_measurements_to_timescaledb

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("password", ["two words", "it's", "a/b", "we#ird", "why?", "at@sign", 'quo"te', "back\\slash"])
def test_a_password_a_url_must_encode_is_refused_without_being_shown(password):
    url = f"postgresql://heimdall:{password}@db.example:5432/heimdall"
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({"HEIMDALL_DATABASE_URL": url})
    message = str(refused.value)
    assert message.startswith("HEIMDALL_DATABASE_URL: the user name or password holds characters a URL must percent-encode")
    assert password not in message and "\n" not in message


def test_an_encoded_password_is_accepted_and_masked_as_written_and_decoded():
    url = "postgresql://heimdall:two%20w%2Frds@db.example:5432/heimdall"
    assert Settings.from_env({"HEIMDALL_DATABASE_URL": url}).database_url == url
    assert redact("failed for two w/rds and two%20w%2Frds", url) == "failed for *** and ***"


def test_a_short_password_is_masked_where_it_stands_alone_and_nowhere_else():
    url = "postgresql://heimdall:x@db.example:5432/heimdall"
    assert redact('role "heimdall" does not exist; password x refused', url) == (
        'role "heimdall" does not exist; password *** refused'
    )


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


SWEPT = "SweepPw-7c41f09e2b"


def _grep_tree(root: Path, needle: str) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file() and needle.encode() in path.read_bytes():
            found.append(str(path))
    return found


@pytest.mark.integration
def test_a_sweep_after_failing_runs_and_clis_finds_the_password_nowhere(dagster_home, admin_database_url, tmp_path):
    url = f"postgresql://heimdall_pipeline:{SWEPT}@127.0.0.1:{_closed_port()}/heimdall"
    outputs: list[str] = []

    # A run whose database is down: the failure is stored in the instance's PostgreSQL and DAGSTER_HOME.
    from heimdall_pipeline.defs.ingest.assets import minio_metadata
    from heimdall_pipeline.defs.resources import TimescaleResource

    with DagsterInstance.get() as instance:
        result = materialize(
            [minio_metadata],
            partition_key="2025-06-10",
            instance=instance,
            raise_on_error=False,
            resources={"timescale": TimescaleResource(database_url=url)},
        )
        assert not result.success
        run_id = result.run_id

    # The worker API, and every CLI that takes a database URL, failing against it.
    outputs.append(str(save_measurements_to_timescaledb("task-s", [{"websdr_id": 1}], database_url=url)))
    outputs.append(
        str(
            save_measurements_to_timescaledb(
                "task-s",
                [
                    {
                        "websdr_id": 1,
                        "frequency_mhz": 145.5,
                        "sample_rate_khz": 12.5,
                        "samples_count": 1,
                        "timestamp_utc": "2025-06-10T12:00:00Z",
                        "metrics": {"snr_db": 1.0},
                    }
                ],
                database_url=url,
            )
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEIMDALL_")}
    env.update(
        HEIMDALL_DATABASE_URL=url,
        HEIMDALL_MIGRATE_DATABASE_URL=url,
        HEIMDALL_EVENTS_MINIO_TABLE="on",
        HEIMDALL_S3_ENDPOINT_URL="http://127.0.0.1:1",
    )
    # The same password with characters a URL must encode: refused before any parser can quote it.
    special = f"postgresql://heimdall_pipeline:{SWEPT} '/#?@127.0.0.1:{_closed_port()}/heimdall"
    outputs.append(str(save_measurements_to_timescaledb("task-s", [{"websdr_id": 1}], database_url=special)))
    for database_url in (url, special):
        env.update(HEIMDALL_DATABASE_URL=database_url, HEIMDALL_MIGRATE_DATABASE_URL=database_url)
        for command in (
            ["heimdall-migrate"],
            ["heimdall-stations", "log"],
            ["heimdall-reconcile"],
            ["heimdall-events", "--once"],
        ):
            done = subprocess.run(
                [str(BIN / command[0]), *command[1:]], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path
            )
            assert done.returncode != 0, command
            assert "Traceback" not in done.stderr, (command, done.stderr[-2000:])
            outputs.append(done.stdout + done.stderr)

    assert [text for text in outputs if SWEPT in text] == []
    assert _grep_tree(Path(dagster_home), SWEPT) == []
    with connect(os.environ["DAGSTER_POSTGRES_URL"], autocommit=False, schema="public") as dagster_db:
        tables = [
            t
            for (t,) in dagster_db.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchall()
        ]
        assert "event_logs" in tables
        for table in tables:
            hits = dagster_db.execute(f'SELECT count(*) FROM "{table}" t WHERE t::text LIKE %s', (f"%{SWEPT}%",)).fetchone()[0]
            assert hits == 0, table
        assert dagster_db.execute("SELECT count(*) FROM event_logs WHERE run_id = %s", (run_id,)).fetchone()[0] > 0
