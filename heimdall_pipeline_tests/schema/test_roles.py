"""Least privilege: what the pipeline and reader roles can and cannot do, on the real server.

The rest of the suite runs the ingest chain, the checks, retention and restore as the pipeline
role (`database_url`) and the reports as the reader (`reader_database_url`); these tests pin the
boundaries, and that the runtime never migrates but says in one line to run heimdall-migrate.
"""

from __future__ import annotations

import shutil
import uuid
from datetime import date
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import errors, sql

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.core.settings import redact
from heimdall_pipeline.defs.resources import TimescaleResource
from heimdall_pipeline.ingest.loader import load_measurements
from heimdall_pipeline.lifecycle.retention import archive_day
from heimdall_pipeline.schema import migrations as migrations_module
from heimdall_pipeline.schema.grants import apply_grants
from heimdall_pipeline.schema.migrations import MIGRATIONS_DIR, SchemaBehindError, discover, migrate
from heimdall_pipeline.worker.api import save_measurements_to_timescaledb
from heimdall_pipeline_tests.conftest import TEST_DB_SCHEMA, _user, _with_database, create_role_database, drop_database
from heimdall_pipeline_tests.measurement_rows import realistic_day

# The expectations for the local stack's roles (scripts/devstack.sh) and the tables of the schema.
DATA_TABLES = ("measurements", "ingest_ledger", "measurements_hourly", "measurement_archives", "iq_metrics")
ALL_TABLES = (*DATA_TABLES, "websdr_station_versions", "websdr_station_changes", "schema_migrations")
# websdr_stations is a view since 0016: the stations of now, read like the table it was.
VIEWS = ("websdr_stations",)


def _refused(url: str, statement: str, params=None) -> None:
    """The statement fails for lack of privilege (not for any other reason)."""
    with connect(url, autocommit=True) as conn:
        with pytest.raises(errors.InsufficientPrivilege):
            conn.execute(statement, params)


@pytest.fixture(scope="module")
def split_roles(role_urls):
    if len({_user(role_urls.owner), _user(role_urls.pipeline), _user(role_urls.reader), _user(role_urls.archiver)}) != 4:
        pytest.skip("HEIMDALL_DATABASE_URL, _MIGRATE_, _READER_ and _ARCHIVER_ share a role: no split to test")
    return role_urls


def test_the_suite_runs_as_roles_without_superuser_or_ownership(split_roles, database_url, reader_database_url):
    for url in (database_url, reader_database_url):
        with connect(url, autocommit=False) as conn:
            user, superuser, owns = conn.execute(
                "SELECT current_user, rolsuper, pg_has_role(current_user, (SELECT tableowner FROM pg_tables "
                "WHERE tablename = 'measurements'), 'USAGE') FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
        assert (superuser, owns) == (False, False), user
    with connect(database_url, autocommit=False) as conn:
        assert conn.execute("SELECT current_user").fetchone()[0] == _user(split_roles.pipeline)


def test_the_pipeline_role_cannot_change_the_schema(split_roles, clean_database_url):
    url = clean_database_url
    _refused(url, "DROP TABLE measurements")
    _refused(url, "DROP TABLE ingest_ledger")
    _refused(url, "CREATE TABLE planted (id int)")
    _refused(url, "ALTER TABLE measurements ADD COLUMN planted int")
    _refused(url, "ALTER TABLE ingest_ledger DROP CONSTRAINT ingest_ledger_pkey")
    _refused(url, "CREATE INDEX planted ON measurements (s3_path)")
    _refused(url, "TRUNCATE measurements")
    _refused(url, "DELETE FROM schema_migrations")
    _refused(url, "UPDATE websdr_stations SET active = FALSE")
    # The receiver list over time is the owner's to change (heimdall-stations sync).
    _refused(url, "UPDATE websdr_station_versions SET name = 'planted'")
    _refused(url, "DELETE FROM websdr_station_versions")
    _refused(
        url,
        "INSERT INTO websdr_station_changes (effective_at, recorded_by, source, change, station_key) "
        "VALUES (now(), 'planted', 'planted', 'edited', 'torino')",
    )
    # drop_chunks needs the owner: the pipeline retires days only through the owner's function.
    with connect(url, autocommit=True) as conn:
        with pytest.raises(psycopg.Error, match="must be owner"):
            conn.execute("SELECT drop_chunks('measurements', older_than => now())")


def test_the_pipeline_role_can_neither_forge_an_archive_record_nor_drop_a_day(split_roles, clean_database_url):
    """Before: as the pipeline role (whose URL Heimdall's workers share), insert a measurement_archives
    row for a day never archived, then call drop_archived_day_chunks: the day's rows were gone."""
    day = date(2025, 1, 2)
    rows = realistic_day(day, sessions=3)
    with connect(clean_database_url, autocommit=True) as conn:
        load_measurements(conn, rows)
    _refused(
        clean_database_url,
        "INSERT INTO measurement_archives (day, object_key, row_count, checksum) VALUES (%s, 'planted', 1000000, 'planted')",
        (day,),
    )
    _refused(
        clean_database_url,
        "INSERT INTO measurement_archive_writes (day, object_key, row_count, checksum) "
        "VALUES (%s, 'planted', 1000000, 'planted')",
        (day,),
    )
    _refused(clean_database_url, "UPDATE measurement_archives SET row_count = 1000000")
    _refused(clean_database_url, "SELECT drop_archived_day_chunks(%s)", (day,))
    with connect(clean_database_url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM measurements").fetchone()[0] == len(rows)
        conn.execute("SELECT count(*) FROM measurement_archives")  # reading them stays allowed


def test_the_owners_drop_function_refuses_a_day_without_an_archive(
    split_roles, clean_database_url, archiver_database_url, s3, bucket
):
    day = date(2025, 1, 2)
    rows = realistic_day(day, sessions=3)
    with connect(archiver_database_url) as conn:
        load_measurements(conn, rows)
        with pytest.raises(psycopg.Error, match="no archive record"):
            conn.execute("SELECT drop_archived_day_chunks(%s)", (day,))
        # An archive record that holds fewer rows than the day has is refused too.
        archive_day(conn, s3, bucket, day)
        conn.execute("UPDATE measurement_archives SET row_count = row_count - 1 WHERE day = %s", (day,))
        with pytest.raises(psycopg.Error, match="rows in the day, its archive records"):
            conn.execute("SELECT drop_archived_day_chunks(%s)", (day,))
        assert conn.execute("SELECT count(*) FROM measurements").fetchone()[0] == len(rows)


def test_the_reader_can_select_everything_and_write_nothing(split_roles, clean_database_url, reader_database_url):
    rows = realistic_day(date(2025, 3, 10), sessions=2)
    with connect(clean_database_url) as conn:
        load_measurements(conn, rows)
    with connect(reader_database_url, autocommit=True) as reader:
        for table in (*ALL_TABLES, *VIEWS):
            reader.execute(f"SELECT count(*) FROM {table}").fetchone()
        assert reader.execute("SELECT count(*) FROM measurements").fetchone()[0] == len(rows)
    for table in (*ALL_TABLES, *VIEWS):
        _refused(reader_database_url, f"DELETE FROM {table}")
        _refused(reader_database_url, f"UPDATE {table} SET {_a_column(reader_database_url, table)} = NULL")
        _refused(reader_database_url, f"INSERT INTO {table} DEFAULT VALUES")  # refused before any constraint
    for table in ALL_TABLES:
        _refused(reader_database_url, f"TRUNCATE {table}")
    _refused(reader_database_url, "CREATE TABLE planted (id int)")
    _refused(reader_database_url, "SELECT drop_archived_day_chunks(%s)", (date(2025, 3, 10),))
    with connect(reader_database_url, autocommit=False) as reader:
        assert reader.execute("SELECT count(*) FROM measurements").fetchone()[0] == len(rows)


def _a_column(url: str, table: str) -> str:
    with connect(url, autocommit=False) as conn:
        return conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position DESC LIMIT 1",
            (table,),
        ).fetchone()[0]


def test_a_table_from_a_later_migration_is_granted(split_roles, owner_database_url, database_url, reader_database_url):
    with connect(owner_database_url, autocommit=True) as owner:
        owner.execute("CREATE TABLE later_migration_table (id BIGSERIAL PRIMARY KEY, note TEXT)")
    try:
        # ALTER DEFAULT PRIVILEGES covers it before heimdall-migrate re-applies the grants ...
        with connect(database_url, autocommit=True) as pipeline:
            pipeline.execute("INSERT INTO later_migration_table (note) VALUES ('written by the pipeline')")
        with connect(reader_database_url, autocommit=False) as reader:
            assert reader.execute("SELECT note FROM later_migration_table").fetchall() == [("written by the pipeline",)]
        _refused(reader_database_url, "DELETE FROM later_migration_table")
        # ... and re-applying them names it.
        with connect(owner_database_url) as owner:
            pipeline_grants, reader_grants = apply_grants(owner, _user(split_roles.pipeline), _user(split_roles.reader))
        assert "later_migration_table" in pipeline_grants.summary.split("; SELECT on")[0]
        assert "later_migration_table" in reader_grants.summary
    finally:
        with connect(owner_database_url, autocommit=True) as owner:
            owner.execute("DROP TABLE later_migration_table")


def test_grants_skip_a_role_that_does_not_exist(owner_database_url, split_roles):
    with connect(owner_database_url) as owner:
        missing, reader = apply_grants(owner, "heimdall_no_such_role", _user(split_roles.reader))
    assert (missing.granted, reader.granted) == (False, True)
    assert missing.summary == "heimdall_no_such_role: no such role, nothing granted (docs/operating.md, 'Database roles')"


@pytest.fixture
def database_one_migration_behind(admin_database_url, split_roles, edition, tmp_path):
    """A database migrated by the owner with every migration but the newest, as a pipeline-role URL."""
    name = f"heimdall_behind_{uuid.uuid4().hex[:10]}"
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)
    newest = max((m for m in discover(directory) if m.applies_to(edition)), key=lambda m: m.version)
    newest.path.unlink()
    create_role_database(admin_database_url, split_roles, name, migrations_dir=directory)
    yield _with_database(split_roles.pipeline, name), _with_database(split_roles.owner, name)
    drop_database(admin_database_url, name)


def test_the_runtime_never_migrates_and_says_to_run_heimdall_migrate(database_one_migration_behind, edition):
    pipeline_url, owner_url = database_one_migration_behind
    versions = sorted(m.version for m in discover() if m.applies_to(edition))
    expected = f"schema {TEST_DB_SCHEMA} is at {versions[-2]}, code needs {versions[-1]}: run heimdall-migrate (make migrate)"

    with pytest.raises(SchemaBehindError) as raised:
        with TimescaleResource(database_url=pipeline_url, db_schema=TEST_DB_SCHEMA).connection():
            pass
    assert str(raised.value) == expected
    result = save_measurements_to_timescaledb("task-behind", [], database_url=pipeline_url)
    # The answer masks the role's password wherever it appears: the local placeholder password of
    # heimdall_pipeline is its name, which is also the schema's name in `make test`.
    assert (result["status"], result["retryable"], result["error"]) == ("FAILED", False, redact(expected, pipeline_url))
    with connect(owner_url, autocommit=False) as owner:  # nothing was applied by either
        assert owner.execute("SELECT max(version) FROM schema_migrations").fetchone()[0] == versions[-2]

    assert [m.version for m in migrate(owner_url)] == [versions[-1]]
    with TimescaleResource(database_url=pipeline_url, db_schema=TEST_DB_SCHEMA).connection() as conn:
        assert conn.execute("SELECT count(*) FROM measurements").fetchone()[0] == 0


def test_an_unmigrated_database_is_at_zero(admin_database_url, split_roles):
    name = f"heimdall_empty_{uuid.uuid4().hex[:10]}"
    with connect(admin_database_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        newest = max(m.version for m in discover() if m.edition is None)
        with pytest.raises(
            SchemaBehindError, match=rf"^schema {TEST_DB_SCHEMA} is at 0, code needs {newest}: run heimdall-migrate"
        ):
            with TimescaleResource(
                database_url=_with_database(split_roles.pipeline, name), db_schema=TEST_DB_SCHEMA
            ).connection():
                pass
    finally:
        drop_database(admin_database_url, name)


def test_migrate_settings_default_to_the_pipeline_url_and_the_standard_role_names():
    from heimdall_pipeline.core.settings import MigrateSettings

    only_runtime = MigrateSettings.from_env({"HEIMDALL_DATABASE_URL": "postgresql://p@db/heimdall"})
    assert only_runtime == MigrateSettings("postgresql://p@db/heimdall", "heimdall_pipeline", "heimdall_reader")
    split = MigrateSettings.from_env(
        {
            "HEIMDALL_DATABASE_URL": "postgresql://p@db/heimdall",
            "HEIMDALL_MIGRATE_DATABASE_URL": "postgresql://o@db/heimdall",
            "HEIMDALL_PIPELINE_ROLE": "ingest",
            "HEIMDALL_READER_ROLE": "grafana",
        }
    )
    assert split == MigrateSettings("postgresql://o@db/heimdall", "ingest", "grafana")


def test_heimdall_migrate_without_a_url_says_which_variables_to_set(monkeypatch):
    from heimdall_pipeline.schema import migrations

    monkeypatch.delenv("HEIMDALL_DATABASE_URL", raising=False)
    monkeypatch.delenv("HEIMDALL_MIGRATE_DATABASE_URL", raising=False)
    with pytest.raises(SystemExit) as stopped:
        migrations.main([])
    # One line, naming both variables, no stack trace (settings.exit_on_config_error).
    message = str(stopped.value)
    assert message.startswith("heimdall-migrate: configuration error: HEIMDALL_DATABASE_URL is not set")
    assert "HEIMDALL_MIGRATE_DATABASE_URL" in message and "\n" not in message


def test_a_hostile_role_name_is_quoted_as_an_identifier_never_run(admin_database_url, owner_database_url, split_roles):
    """Before: HEIMDALL_PIPELINE_ROLE went into a string literal of a DO block; a plain ' broke it and
    a crafted name ran its own SQL as the owner (it created a table)."""
    database = urlsplit(owner_database_url).path.lstrip("/")
    hostile = "x'); CREATE TABLE pwned_by_role (a int); --\"'"
    role = sql.Identifier(hostile)
    with connect(_with_database(admin_database_url, database), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(role))
        admin.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(role))
        try:
            with connect(owner_database_url) as owner:
                pipeline, reader = apply_grants(owner, hostile, _user(split_roles.reader))
            assert pipeline.granted and reader.granted
            assert admin.execute("SELECT to_regclass('pwned_by_role'), to_regclass('public.pwned_by_role')").fetchone() == (
                None,
                None,
            )
            can = admin.execute(
                "SELECT has_table_privilege(%s, 'schema_migrations', 'SELECT'), "
                "has_table_privilege(%s, 'schema_migrations', 'INSERT'), has_table_privilege(%s, 'measurements', 'INSERT')",
                (hostile, hostile, hostile),
            ).fetchone()
            assert can == (True, False, True)  # the owner's tables read-only, the data writable
        finally:
            admin.execute(sql.SQL("DROP OWNED BY {}").format(role))
            admin.execute(sql.SQL("DROP ROLE {}").format(role))


def test_heimdall_migrate_with_the_pipeline_role_says_which_variable_to_set(database_one_migration_behind, capsys, monkeypatch):
    """Before: a 16-line traceback ending in InsufficientPrivilege."""
    pipeline_url, _ = database_one_migration_behind
    monkeypatch.setenv("HEIMDALL_DB_SCHEMA", TEST_DB_SCHEMA)
    assert migrations_module.main(["--database-url", pipeline_url]) == 1
    err = capsys.readouterr().err
    assert err.startswith("heimdall-migrate: this role may not change the schema (permission denied")
    assert "HEIMDALL_MIGRATE_DATABASE_URL" in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
