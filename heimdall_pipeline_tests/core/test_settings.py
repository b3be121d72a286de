"""Configuration that fails clearly: a missing or malformed setting stops every entry point with one
line naming the variable, and no secret is ever shown (URLs keep their password masked)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from heimdall_pipeline.core.db import DatabaseConnectionError, connect
from heimdall_pipeline.core.settings import (
    ConfigError,
    Settings,
    check_instance,
    partitions_start_date,
    postgres_url,
    redact,
    redact_url,
)
from heimdall_pipeline.worker.api import save_measurements_to_timescaledb

REPO = Path(__file__).resolve().parents[2]
SECRET = "s3cret-Pw"
VALID = {"HEIMDALL_DATABASE_URL": f"postgresql://heimdall:{SECRET}@db.example:5432/heimdall"}


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (f"postgresql://heimdall:{SECRET}@host:5432/db", "postgresql://heimdall:***@host:5432/db"),
        (f"postgres+psycopg2://heimdall:{SECRET}@host/db", "postgres+psycopg2://heimdall:***@host/db"),
        (f"heimdall:{SECRET}@host/db", "heimdall:***@host/db"),
        (f"host=h password={SECRET} user=u", "host=h password=*** user=u"),
        (f"host=h password='{SECRET} x' user=u", "host=h password=*** user=u"),
        (f"postgresql://u@h/db?password={SECRET}", "postgresql://u@h/db?password=***"),
        (
            f'missing "=" after "heimdall:{SECRET}@host/db" in connection info string',
            'missing "=" after "heimdall:***@host/db" in connection info string',
        ),
        ("postgresql://heimdall@host/db", "postgresql://heimdall@host/db"),
        ("http://minio.example:9000", "http://minio.example:9000"),
    ],
)
def test_redact_url_masks_every_form_of_password(text, masked):
    assert redact_url(text) == masked


def test_redact_masks_the_password_of_a_url_wherever_it_appears():
    assert redact(f"authentication failed, password {SECRET} rejected", VALID["HEIMDALL_DATABASE_URL"]) == (
        "authentication failed, password *** rejected"
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "HEIMDALL_DATABASE_URL is not set"),
        ("", "HEIMDALL_DATABASE_URL is not set"),
        (f"heimdall:{SECRET}@db.example/heimdall", "HEIMDALL_DATABASE_URL must be a postgresql:// URL"),
        (f"mysql://heimdall:{SECRET}@db.example/heimdall", "HEIMDALL_DATABASE_URL must be a postgresql:// URL"),
        (f"postgresql://heimdall:{SECRET}@db.example:54x2/heimdall", "HEIMDALL_DATABASE_URL is not a valid URL"),
        (f"postgresql://heimdall:{SECRET}@db.example:5432", "HEIMDALL_DATABASE_URL names no database"),
        (
            f"postgresql://heimdall:{SECRET}@db.example/heimdall?sslmode=sometimes&x=1",
            "HEIMDALL_DATABASE_URL is not a valid PostgreSQL URL",
        ),
    ],
)
def test_a_bad_database_url_is_one_line_naming_the_variable_without_the_secret(value, expected):
    env = {} if value is None else {"HEIMDALL_DATABASE_URL": value}
    with pytest.raises(ConfigError) as error:
        Settings.from_env(env)
    message = str(error.value)
    assert message.startswith(expected)
    assert "\n" not in message and SECRET not in message


@pytest.mark.parametrize("value", ["2025-13-01", "yesterday", "2025/01/01", "20250101"])
def test_a_bad_partitions_start_date_names_the_variable(value):
    with pytest.raises(ConfigError, match=r"^HEIMDALL_PARTITIONS_START_DATE must be a date YYYY-MM-DD"):
        partitions_start_date({"HEIMDALL_PARTITIONS_START_DATE": value})
    with pytest.raises(ConfigError, match="HEIMDALL_PARTITIONS_START_DATE"):
        Settings.from_env({**VALID, "HEIMDALL_PARTITIONS_START_DATE": value})


def test_a_bad_s3_endpoint_names_the_variable():
    with pytest.raises(ConfigError, match=r"^HEIMDALL_S3_ENDPOINT_URL must be an http"):
        Settings.from_env({**VALID, "HEIMDALL_S3_ENDPOINT_URL": "minio.example:9000"})


def test_the_instance_settings_are_checked(tmp_path):
    with pytest.raises(ConfigError, match=r"^DAGSTER_HOME is not set"):
        check_instance({})
    with pytest.raises(ConfigError, match=r"holds no dagster.yaml$"):
        check_instance({"DAGSTER_HOME": str(tmp_path)})
    (tmp_path / "dagster.yaml").write_text("telemetry: {enabled: false}\n")
    with pytest.raises(ConfigError, match=r"^DAGSTER_POSTGRES_URL is not set"):
        check_instance({"DAGSTER_HOME": str(tmp_path)})
    with pytest.raises(ConfigError) as error:
        check_instance({"DAGSTER_HOME": str(tmp_path), "DAGSTER_POSTGRES_URL": f"dagster:{SECRET}@pg/dagster"})
    assert str(error.value).startswith("DAGSTER_POSTGRES_URL must be a postgresql:// URL") and SECRET not in str(error.value)


def test_postgres_url_accepts_what_libpq_accepts():
    url = postgres_url({"X": f"postgresql://heimdall:{SECRET}@db.example:5432/heimdall?sslmode=require"}, "X")
    assert url.endswith("sslmode=require")


@pytest.mark.integration
def test_a_refused_connection_is_one_line_with_the_password_masked(admin_database_url):
    import socket
    from urllib.parse import urlsplit

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    url = f"postgresql://heimdall:{SECRET}@127.0.0.1:{closed_port}/heimdall"
    with pytest.raises(DatabaseConnectionError) as error:
        connect(url, connect_timeout=2)
    message = str(error.value)
    assert message.startswith(f"cannot connect to postgresql://heimdall:***@127.0.0.1:{closed_port}/heimdall:")
    assert SECRET not in message and "\n" not in message
    assert error.value.__suppress_context__  # the original error, which may quote the URL, is not chained
    assert urlsplit(admin_database_url).scheme  # the real server is there; only this port is closed


def test_the_worker_api_reports_a_configuration_error_without_raising(monkeypatch):
    monkeypatch.setenv("HEIMDALL_DATABASE_URL", f"heimdall:{SECRET}@db.example/heimdall")
    result = save_measurements_to_timescaledb("task", [])
    assert (result["status"], result["retryable"]) == ("FAILED", False)
    assert result["error"].startswith("HEIMDALL_DATABASE_URL must be a postgresql:// URL")
    assert SECRET not in result["error"]


def _entry_point(cmd: list[str], **settings: str) -> subprocess.CompletedProcess:
    """Run an entry point with only `settings` among the project's variables. Not from the
    repository root: without DAGSTER_HOME, Dagster's CLI would take ./dagster.yaml as its instance."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEIMDALL_", "DAGSTER_"))}
    env.update(settings)
    return subprocess.run(cmd, env=env, cwd=REPO / "heimdall_pipeline_tests", capture_output=True, text=True, timeout=180)


def _assert_one_clean_line(done: subprocess.CompletedProcess, variable: str) -> None:
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert variable in lines[0] and SECRET not in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    ("settings", "variable"),
    [
        ({}, "HEIMDALL_DATABASE_URL"),
        ({"HEIMDALL_DATABASE_URL": f"heimdall:{SECRET}@db.example/heimdall"}, "HEIMDALL_DATABASE_URL"),
        ({"HEIMDALL_DATABASE_URL": f"postgresql://heimdall:{SECRET}@db.example:port/heimdall"}, "HEIMDALL_DATABASE_URL"),
    ],
)
def test_heimdall_migrate_stops_with_one_line(settings, variable):
    _assert_one_clean_line(_entry_point([str(BIN / "heimdall-migrate")], **settings), variable)


@pytest.mark.integration
def test_heimdall_migrate_masks_the_password_when_the_server_refuses():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    done = _entry_point(
        [str(BIN / "heimdall-migrate")], HEIMDALL_DATABASE_URL=f"postgresql://heimdall:{SECRET}@127.0.0.1:{closed_port}/heimdall"
    )
    _assert_one_clean_line(done, "heimdall:***@127.0.0.1")


def test_the_definitions_do_not_load_with_a_bad_setting():
    done = _entry_point(
        [str(BIN / "dagster"), "definitions", "validate", "-m", "heimdall_pipeline.definitions"],
        HEIMDALL_DATABASE_URL=VALID["HEIMDALL_DATABASE_URL"],
        HEIMDALL_PARTITIONS_START_DATE="01/01/2025",
    )
    assert done.returncode != 0
    assert "HEIMDALL_PARTITIONS_START_DATE must be a date YYYY-MM-DD" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr and SECRET not in done.stderr + done.stdout


def test_the_code_server_does_not_start_with_a_missing_database_url():
    done = _entry_point([sys.executable, "-c", "import heimdall_pipeline.definitions"])
    _assert_one_clean_line(done, "HEIMDALL_DATABASE_URL")


def test_the_demo_stops_with_one_line_without_an_instance():
    done = _entry_point([sys.executable, str(REPO / "scripts" / "demo.py")], **VALID)
    _assert_one_clean_line(done, "DAGSTER_HOME")


def test_serve_stops_with_one_line_on_a_bad_instance_url(tmp_path):
    (tmp_path / "dagster.yaml").symlink_to(REPO / "dagster.yaml")
    done = _entry_point(
        [str(REPO / "scripts" / "serve.sh"), "up"],
        **VALID,
        DAGSTER_HOME=str(tmp_path),
        DAGSTER_POSTGRES_URL=f"dagster:{SECRET}@pg.example/dagster",
        HEIMDALL_SERVE_STATE=str(tmp_path / "state"),
        HEIMDALL_SERVE_ENVFILE=str(tmp_path / "env"),
    )
    _assert_one_clean_line(done, "DAGSTER_POSTGRES_URL")


@pytest.mark.parametrize(
    ("concurrency", "max_bytes"),
    [("8", "16777216"), ("1", "1024"), ("64", "268435456")],  # the defaults, the low bounds, the high bounds
)
def test_the_iq_settings_load_when_set_to_their_defaults_and_bounds(concurrency, max_bytes):
    """Before: setting either at all took the code location down (pydantic's ge=1 saw the EnvVar, not its value)."""
    done = _entry_point(
        [str(BIN / "dagster"), "definitions", "validate", "-m", "heimdall_pipeline.definitions"],
        **VALID,
        HEIMDALL_IQ_CONCURRENCY=concurrency,
        HEIMDALL_IQ_MAX_RECORDING_BYTES=max_bytes,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    from heimdall_pipeline.defs.resources import resources_from_env

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEIMDALL_IQ_CONCURRENCY", concurrency)
        patch.setenv("HEIMDALL_IQ_MAX_RECORDING_BYTES", max_bytes)
        resource = resources_from_env()["iq_recordings"].process_config_and_initialize()
    assert (resource.concurrency, resource.max_recording_bytes) == (int(concurrency), int(max_bytes))


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("HEIMDALL_IQ_CONCURRENCY", "0"),
        ("HEIMDALL_IQ_CONCURRENCY", "100000"),
        ("HEIMDALL_IQ_CONCURRENCY", "eight"),
        ("HEIMDALL_IQ_MAX_RECORDING_BYTES", "1023"),
        ("HEIMDALL_IQ_MAX_RECORDING_BYTES", "268435457"),
        ("HEIMDALL_RECONCILE_PAGES_PER_TICK", "-1"),
        ("HEIMDALL_RECONCILE_PAGES_PER_TICK", "1001"),
    ],
)
def test_numeric_settings_out_of_range_are_refused_in_one_line(variable, value):
    with pytest.raises(ConfigError) as refused:
        Settings.from_env({**VALID, variable: value})
    assert str(refused.value).startswith(f"{variable} must ") and "\n" not in str(refused.value)


def test_an_out_of_range_concurrency_stops_the_definitions_with_one_line():
    done = _entry_point([sys.executable, "-c", "import heimdall_pipeline.definitions"], **VALID, HEIMDALL_IQ_CONCURRENCY="100000")
    _assert_one_clean_line(done, "HEIMDALL_IQ_CONCURRENCY")


def test_the_library_refuses_an_unbounded_concurrency():
    from heimdall_pipeline.iq.recordings import read_recordings

    with pytest.raises(ValueError, match="concurrency must be from 1 to 64"):
        list(read_recordings(None, "bucket", [], concurrency=100_000))
