"""HEIMDALL_DB_SCHEMA: our tables in a schema of their own, beside Heimdall's; a `measurements`
table that is not ours stops the runner; adoption keeps every row.

Each test makes its own database (the admin creates it and the extension, as `make up` does; the
owner role does the rest, as heimdall-migrate does). The whole suite also runs in the schema of
`make test` (heimdall by default): these tests are about the boundaries between schemas."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from heimdall_pipeline.analytics.aggregates import refresh_hourly
from heimdall_pipeline.analytics.reports import build_report
from heimdall_pipeline.core.db import connect
from heimdall_pipeline.core.settings import ConfigError, db_schema, search_path
from heimdall_pipeline.ingest.loader import load_measurements
from heimdall_pipeline.schema import migrations
from heimdall_pipeline.schema.adoption import SEED_INDEXES, SET_ASIDE_TABLE
from heimdall_pipeline.schema.grants import apply_grants
from heimdall_pipeline.schema.migrations import MigrationError, SchemaBehindError, discover, migrate, require_current_schema
from heimdall_pipeline_tests.conftest import TEST_DB_SCHEMA, _user, _with_database, drop_database
from heimdall_pipeline_tests.heimdall_tables import HEIMDALL_WEBSDR_STATIONS
from heimdall_pipeline_tests.measurement_rows import realistic_day

# Heimdall's backend model of measurements: a SQLAlchemy table with a surrogate primary key `id`
# and the seed's columns (its strings as VARCHAR), not a hypertable.
HEIMDALL_MEASUREMENTS = """
CREATE TABLE {table} (
    id BIGSERIAL PRIMARY KEY,
    task_id VARCHAR NOT NULL,
    websdr_id INTEGER NOT NULL,
    frequency_mhz FLOAT8 NOT NULL,
    sample_rate_khz FLOAT8 NOT NULL,
    samples_count INTEGER NOT NULL,
    timestamp_utc TIMESTAMPTZ NOT NULL,
    snr_db FLOAT8,
    frequency_offset_hz FLOAT8,
    power_dbm FLOAT8,
    s3_path VARCHAR
)
"""
HEIMDALL_STATIONS = "CREATE TABLE {table} (id SERIAL PRIMARY KEY, name VARCHAR NOT NULL, url VARCHAR NOT NULL, is_active BOOLEAN)"
SEED_COLUMNS = (
    "id, task_id, websdr_id, frequency_mhz, sample_rate_khz, samples_count, timestamp_utc, snr_db, "
    "frequency_offset_hz, power_dbm, s3_path"
)
FIRST_DAY = date(2025, 3, 10)


def test_the_schema_setting_is_a_plain_identifier_defaulting_to_public():
    assert db_schema({}) == "public"
    assert db_schema({"HEIMDALL_DB_SCHEMA": " heimdall "}) == "heimdall"
    assert search_path("public") == "public"
    assert search_path("heimdall") == '"heimdall",public'
    for bad in (
        "Heimdall",
        "heimdall; DROP TABLE x",
        "pg_catalog",
        "information_schema",
        "1st",
        "a-b",
        "x" * 64,
        "_timescaledb_internal",
        "_timescaledb_catalog",
        "timescaledb_information",
        "timescaledb_experimental",
    ):
        with pytest.raises(ConfigError) as raised:
            db_schema({"HEIMDALL_DB_SCHEMA": bad})
        message = str(raised.value)
        assert message.startswith("HEIMDALL_DB_SCHEMA must be a plain lower-case identifier") and repr(bad) in message
        assert "\n" not in message


@pytest.fixture
def new_database(admin_database_url, role_urls):
    """A new database owned by the owner role, the extension in public (created by the admin);
    yields (owner URL, pipeline URL, reader URL)."""
    name = f"heimdall_schema_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(_user(role_urls.owner))))
    with psycopg.connect(_with_database(admin_database_url, name), autocommit=True) as admin:
        admin.execute("SET client_min_messages = warning")
        admin.execute("CREATE EXTENSION timescaledb SCHEMA public")
    yield tuple(_with_database(url, name) for url in (role_urls.owner, role_urls.pipeline, role_urls.reader))
    drop_database(admin_database_url, name)


def _heimdall_rows(rows: int = 300) -> list[tuple]:
    """Heimdall's rows over three days, ids in insertion order; the last three repeat the
    (task_id, websdr_id, timestamp_utc) of earlier rows with other values (e.g. a re-run acquisition)."""
    out = []
    for i in range(rows - 3):
        at = datetime(2025, 3, 10, tzinfo=UTC) + timedelta(minutes=14 * i)  # 297 * 14 min: three days
        out.append(
            (
                f"task-{i // 7:04d}",
                i % 7 + 1,
                145.0 + (i % 5) / 10,
                12.5,
                125000,
                at,
                5.0 + i % 30,
                -10.0 + i % 20,
                -60.0,
                f"sessions/task-{i // 7:04d}/websdr_{i % 7 + 1}.npy",
            )
        )
    for i in (5, 100, 250):
        task, websdr, freq, rate, count, at, *_ = out[i]
        out.append((task, websdr, freq + 0.5, rate, count, at, 1.0, 0.0, -70.0, None))
    return out


def _create_heimdall_tables(conn: psycopg.Connection, schema: str) -> None:
    """As Heimdall's backend leaves them in `schema`: measurements (with rows) and websdr_stations."""
    conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    measurements = sql.SQL("{}.measurements").format(sql.Identifier(schema))
    conn.execute(sql.SQL(HEIMDALL_MEASUREMENTS).format(table=measurements))
    with conn.cursor() as cur:
        cur.executemany(
            sql.SQL(
                "INSERT INTO {} (task_id, websdr_id, frequency_mhz, sample_rate_khz, samples_count, timestamp_utc, "
                "snr_db, frequency_offset_hz, power_dbm, s3_path) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
            ).format(measurements),
            _heimdall_rows(),
        )
    stations = sql.SQL("{}.websdr_stations").format(sql.Identifier(schema))
    conn.execute(sql.SQL(HEIMDALL_STATIONS).format(table=stations))
    conn.execute(
        sql.SQL(
            "INSERT INTO {} (name, url, is_active) VALUES ('Heimdall one', 'http://one/', TRUE), ('Heimdall "
            "two', 'http://two/', FALSE)"
        ).format(stations)
    )


def _contents(conn: psycopg.Connection, *tables: str) -> tuple[int, str]:
    """(rows, md5 of every row's seed columns as text, in id order) over `tables` together."""
    union = sql.SQL(" UNION ALL ").join(
        sql.SQL("SELECT {} FROM {}").format(sql.SQL(SEED_COLUMNS), sql.SQL(table)) for table in tables
    )
    return conn.execute(
        sql.SQL("SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t.id)) FROM ({}) AS t").format(union)
    ).fetchone()


def _primary_key(conn: psycopg.Connection, table: str) -> list[str]:
    return conn.execute(
        """
        SELECT array_agg(a.attname ORDER BY k.ord)
        FROM pg_index i
        JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON TRUE
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = %s::regclass AND i.indisprimary
        """,
        (table,),
    ).fetchone()[0]


def test_a_foreign_measurements_table_stops_the_runner_which_says_what_it_found_and_changes_nothing(
    new_database, monkeypatch, capsys
):
    owner_url, _, _ = new_database
    with connect(owner_url) as owner:
        _create_heimdall_tables(owner, TEST_DB_SCHEMA)
        before = _contents(owner, f'"{TEST_DB_SCHEMA}".measurements')
    monkeypatch.setenv("HEIMDALL_DB_SCHEMA", TEST_DB_SCHEMA)

    assert migrations.main(["--database-url", owner_url]) == 1

    err = capsys.readouterr().err
    assert err.startswith(
        f"heimdall-migrate: schema {TEST_DB_SCHEMA} already has a measurements table that "
        "heimdall-pipeline did not create (no migration recorded it), so nothing was changed. "
    )
    assert "columns id bigint NOT NULL, task_id character varying NOT NULL, websdr_id integer NOT NULL" in err
    assert "primary key (id); not a hypertable; 300 rows" in err
    assert "set HEIMDALL_DB_SCHEMA to a schema of ours (e.g. heimdall_pipeline)" in err
    assert "run heimdall-migrate --adopt-measurements" in err
    assert "postgresql://" not in err
    with connect(owner_url) as owner:
        assert _contents(owner, f'"{TEST_DB_SCHEMA}".measurements') == before
        assert owner.execute("SELECT to_regclass(%s)", (f'"{TEST_DB_SCHEMA}".schema_migrations',)).fetchone()[0] is None
        assert _primary_key(owner, f'"{TEST_DB_SCHEMA}".measurements') == ["id"]


def test_a_foreign_table_without_the_seed_columns_is_refused_and_cannot_be_adopted(new_database):
    owner_url, _, _ = new_database
    with connect(owner_url, schema=TEST_DB_SCHEMA) as owner:
        owner.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(TEST_DB_SCHEMA)))
        owner.execute("CREATE TABLE measurements (id SERIAL PRIMARY KEY, station TEXT, value REAL)")
    with pytest.raises(
        MigrationError, match=r"It cannot be adopted: it lacks the seed's columns task_id text, websdr_id integer"
    ):
        migrate(owner_url, schema=TEST_DB_SCHEMA)
    with pytest.raises(MigrationError, match=r"^cannot adopt .*measurements: it lacks the seed's columns task_id text"):
        migrate(owner_url, schema=TEST_DB_SCHEMA, adopt_measurements=True)
    with connect(owner_url, schema=TEST_DB_SCHEMA) as owner:  # a refusal leaves no migration record behind
        assert owner.execute("SELECT to_regclass('schema_migrations')").fetchone()[0] is None


@pytest.mark.parametrize(
    "obstacle",
    [
        "CREATE VIEW heimdall_tasks AS SELECT DISTINCT task_id FROM measurements",
        "CREATE RULE keep_rows AS ON DELETE TO measurements DO INSTEAD NOTHING",
    ],
)
def test_an_adoption_the_server_refuses_is_one_line_and_leaves_nothing_behind(new_database, monkeypatch, capsys, obstacle):
    """Before: a traceback, and an empty schema_migrations left behind by every refusal."""
    owner_url, _, _ = new_database
    with connect(owner_url) as owner:
        _create_heimdall_tables(owner, TEST_DB_SCHEMA)
        owner.execute(sql.SQL("SET search_path = {}").format(sql.Identifier(TEST_DB_SCHEMA)))
        owner.execute(obstacle)
        before = _contents(owner, f'"{TEST_DB_SCHEMA}".measurements')
    monkeypatch.setenv("HEIMDALL_DB_SCHEMA", TEST_DB_SCHEMA)

    assert migrations.main(["--database-url", owner_url, "--adopt-measurements"]) == 1

    err = capsys.readouterr().err
    assert err.startswith(f"heimdall-migrate: cannot adopt {TEST_DB_SCHEMA}.measurements") and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1 and "postgresql://" not in err
    with connect(owner_url) as owner:
        assert _contents(owner, f'"{TEST_DB_SCHEMA}".measurements') == before
        assert owner.execute("SELECT to_regclass(%s)", (f'"{TEST_DB_SCHEMA}".schema_migrations',)).fetchone()[0] is None
        assert _primary_key(owner, f'"{TEST_DB_SCHEMA}".measurements') == ["id"]


def test_adopting_heimdalls_measurements_keeps_every_row_and_the_pipeline_loads_into_it(
    new_database, edition, capsys, monkeypatch
):
    owner_url, pipeline_url, reader_url = new_database
    table = f'"{TEST_DB_SCHEMA}".measurements'
    with connect(owner_url) as owner:
        _create_heimdall_tables(owner, TEST_DB_SCHEMA)
        owner.execute(f"DROP TABLE {TEST_DB_SCHEMA}.websdr_stations")  # in our schema, 0002's table would be foreign too
        rows_before, checksum_before = _contents(owner, table)
    monkeypatch.setenv("HEIMDALL_DB_SCHEMA", TEST_DB_SCHEMA)

    assert migrations.main(["--database-url", owner_url, "--adopt-measurements"]) == 0

    out = capsys.readouterr().out
    assert (
        f"adopted measurements: 300 rows, 297 kept in measurements, 3 set aside in {SET_ASIDE_TABLE} "
        "(see its set_aside_reason); recorded as 0001\n"
    ) in out
    assert f"schema: {TEST_DB_SCHEMA}\n" in out
    set_aside = f'"{TEST_DB_SCHEMA}".{SET_ASIDE_TABLE}'
    with connect(owner_url, schema=TEST_DB_SCHEMA) as owner:
        # Every row, byte for byte: the kept ones and the set-aside ones together.
        assert rows_before == 300
        assert _contents(owner, table, set_aside) == (rows_before, checksum_before)
        # The set-aside rows are the later repeats (higher id), with the reason.
        aside = owner.execute(f"SELECT id, set_aside_reason FROM {set_aside} ORDER BY id").fetchall()
        assert aside == [(i, "another row has the same (task_id, websdr_id, timestamp_utc)") for i in (298, 299, 300)]
        assert _primary_key(owner, table) == ["task_id", "websdr_id", "timestamp_utc"]
        assert owner.execute(
            "SELECT num_dimensions FROM timescaledb_information.hypertables WHERE hypertable_schema = %s "
            "AND hypertable_name = 'measurements'",
            (TEST_DB_SCHEMA,),
        ).fetchone() == (1,)
        chunks = owner.execute("SELECT count(*) FROM show_chunks(%s::regclass)", (table,)).fetchone()[0]
        assert chunks == 3  # the rows were migrated into one-day chunks, none left in the parent
        assert owner.execute(f"SELECT count(*) FROM ONLY {table}").fetchone()[0] == 0
        indexes = {
            name
            for (name,) in owner.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = 'measurements'", (TEST_DB_SCHEMA,)
            )
        }
        assert set(SEED_INDEXES) <= indexes
        recorded = [v for (v,) in owner.execute("SELECT version FROM schema_migrations ORDER BY version")]
        assert recorded == [m.version for m in discover() if m.applies_to(edition)]
        assert owner.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = %s "
            "AND table_name = 'measurements' AND column_name = 'task_id'",
            (TEST_DB_SCHEMA,),
        ).fetchone() == ("text",)
    assert migrate(owner_url, schema=TEST_DB_SCHEMA) == []  # 0001 recorded with its checksum: the guard holds

    day = FIRST_DAY + timedelta(days=5)
    with connect(pipeline_url, schema=TEST_DB_SCHEMA) as conn:
        result = load_measurements(conn, realistic_day(day, sessions=10))
        assert result.inserted > 0
        again = load_measurements(conn, realistic_day(day, sessions=10))
        assert again.inserted == 0
        assert conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 297 + result.inserted


def _load_and_report(pipeline_url: str, reader_url: str, schema: str) -> tuple[int, int]:
    """Load a day as the pipeline role, aggregate it, build a report as the reader: (rows, report rows)."""
    day = FIRST_DAY
    with connect(pipeline_url, schema=schema) as conn:
        require_current_schema(conn, schema=schema)
        inserted = load_measurements(conn, realistic_day(day, sessions=12)).inserted
        refresh_hourly(conn, day)
        hourly = conn.execute("SELECT sum(measurement_count) FROM measurements_hourly").fetchone()[0]
        assert hourly == inserted
    with connect(reader_url, schema=schema) as reader:
        report = build_report(reader, "receiver_performance", datetime(2025, 3, 10, 23, 30, tzinfo=UTC), 24)
    assert report.rows["measurement_count"].sum() == inserted
    assert len(report.rows) == 7  # our seven receivers, by name
    return inserted, len(report.rows)


def test_the_default_public_schema_migrates_loads_and_reports(new_database, role_urls, edition):
    owner_url, pipeline_url, reader_url = new_database
    assert [m.version for m in migrate(owner_url, schema="public")] == [m.version for m in discover() if m.applies_to(edition)]
    with connect(owner_url, schema="public") as owner:
        apply_grants(owner, _user(role_urls.pipeline), _user(role_urls.reader), "public")
        tables = {t for (t,) in owner.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {
            "schema_migrations",
            "measurements",
            "websdr_station_versions",
            "ingest_ledger",
            "measurements_hourly",
            "iq_metrics",
        } <= tables
        assert owner.execute("SELECT 1 FROM pg_views WHERE schemaname = 'public' AND viewname = 'websdr_stations'").fetchone()
        assert owner.execute("SELECT proconfig FROM pg_proc WHERE proname = 'drop_archived_day_chunks'").fetchone() == (
            ["search_path=public, pg_temp"],
        )
    inserted, _ = _load_and_report(pipeline_url, reader_url, "public")
    assert inserted > 0


def test_beside_heimdalls_public_tables_ours_live_in_our_schema_and_neither_touches_the_other(new_database, role_urls, edition):
    owner_url, pipeline_url, reader_url = new_database
    ours = TEST_DB_SCHEMA if TEST_DB_SCHEMA != "public" else "heimdall_pipeline"
    with connect(owner_url, schema="public") as owner:
        _create_heimdall_tables(owner, "public")
        heimdall_before = (
            _contents(owner, "public.measurements"),
            owner.execute("SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM public.websdr_stations t").fetchone(),
        )

    # Before our migrations, the runtime stops: it never falls through to Heimdall's public tables.
    with connect(pipeline_url, schema=ours) as conn:
        with pytest.raises(SchemaBehindError, match=rf"^schema {ours} is at 0, code needs"):
            require_current_schema(conn, schema=ours)

    assert [m.version for m in migrate(owner_url, schema=ours)] == [m.version for m in discover() if m.applies_to(edition)]
    with connect(owner_url, schema=ours) as owner:
        grants = apply_grants(owner, _user(role_urls.pipeline), _user(role_urls.reader), ours)
    assert all(g.granted for g in grants) and "measurements" in grants[0].summary

    inserted, _ = _load_and_report(pipeline_url, reader_url, ours)

    with connect(owner_url, schema="public") as owner:
        assert (
            _contents(owner, "public.measurements"),
            owner.execute("SELECT md5(string_agg(t::text, '|' ORDER BY id)) FROM public.websdr_stations t").fetchone(),
        ) == heimdall_before
        assert _primary_key(owner, "public.measurements") == ["id"]  # Heimdall's, as it was
        assert (
            owner.execute(
                "SELECT count(*) FROM timescaledb_information.hypertables WHERE hypertable_schema = 'public'"
            ).fetchone()[0]
            == 0
        )
        assert (
            owner.execute(sql.SQL("SELECT count(*) FROM {}.measurements").format(sql.Identifier(ours))).fetchone()[0] == inserted
        )
        assert owner.execute(sql.SQL("SELECT count(*) FROM {}.websdr_stations").format(sql.Identifier(ours))).fetchone()[0] == 7
        # Our SECURITY DEFINER function resolves our tables, not Heimdall's (0015).
        assert owner.execute(
            "SELECT proconfig FROM pg_proc WHERE proname = 'drop_archived_day_chunks' AND pronamespace = %s::regnamespace",
            (ours,),
        ).fetchone() == ([f"search_path={ours}, public, pg_temp"],)
        # The roles got nothing on Heimdall's tables.
        for role in (_user(role_urls.pipeline), _user(role_urls.reader)):
            if role != _user(role_urls.owner):
                assert not owner.execute("SELECT has_table_privilege(%s, 'public.measurements', 'SELECT')", (role,)).fetchone()[0]
    with connect(owner_url, schema=ours) as owner:
        owner.execute(
            "INSERT INTO measurement_archives (day, object_key, row_count, checksum) VALUES (%s, 'k', 0, 'c')", (FIRST_DAY,)
        )
    with connect(pipeline_url, schema=ours) as conn:  # it counts our rows of the day, not Heimdall's
        with pytest.raises(
            psycopg.errors.RaiseException,
            match=rf"refusing to drop {FIRST_DAY}: {inserted} rows in the day, its archive records 0",
        ):
            conn.execute("SELECT drop_archived_day_chunks(%s)", (FIRST_DAY,))


def test_every_connection_searches_the_configured_schema_first_and_keeps_the_urls_own_options(database_url, monkeypatch):
    monkeypatch.setenv("HEIMDALL_DB_SCHEMA", "somewhere_else")
    with_options = database_url + ("&" if "?" in database_url else "?") + "options=-c%20statement_timeout%3D4321"
    with connect(with_options) as conn:
        assert conn.execute("SHOW search_path").fetchone()[0] == '"somewhere_else",public'
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == "4321ms"
    with connect(database_url, schema="public") as conn:  # an explicit schema wins over the variable
        assert conn.execute("SHOW search_path").fetchone()[0] == "public"
    monkeypatch.setenv("HEIMDALL_DB_SCHEMA", "Bad-Name")
    with pytest.raises(ConfigError, match="^HEIMDALL_DB_SCHEMA must be a plain lower-case identifier"):
        connect(database_url)


def test_the_dagster_resource_reads_the_schema_setting(database_url, monkeypatch):
    from heimdall_pipeline.defs.resources import TimescaleResource, resources_from_env

    monkeypatch.setenv("HEIMDALL_DATABASE_URL", database_url)
    monkeypatch.setenv("HEIMDALL_DB_SCHEMA", TEST_DB_SCHEMA)
    resource = resources_from_env()["timescale"]
    assert resource.process_config_and_initialize().db_schema == TEST_DB_SCHEMA
    with TimescaleResource(database_url=database_url, db_schema=TEST_DB_SCHEMA).connection() as conn:
        assert conn.execute("SELECT current_schema()").fetchone()[0] == TEST_DB_SCHEMA
    with pytest.raises(ConfigError, match="got 'no way'"):
        with TimescaleResource(database_url=database_url, db_schema="no way").connection():
            pass


def test_the_table_heimdalls_seed_script_creates_is_adopted_as_it_is(new_database, edition):
    """Heimdall's seed makes the very table 0001 makes (the hypertable, the composite key): the
    runner still refuses it unrecorded, and adoption only records it."""
    owner_url, pipeline_url, _ = new_database
    (seed,) = [m for m in discover() if m.version == 1]
    with connect(owner_url, schema=TEST_DB_SCHEMA) as owner:
        owner.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(TEST_DB_SCHEMA)))
        owner.execute("SET client_min_messages = warning")
        owner.execute(seed.path.read_text())
        load_measurements(owner, realistic_day(FIRST_DAY, sessions=20))
        before = _contents(owner, "measurements")
    with pytest.raises(
        MigrationError, match=r"primary key \(task_id, websdr_id, timestamp_utc\); a hypertable on timestamp_utc; \d+ rows"
    ):
        migrate(owner_url, schema=TEST_DB_SCHEMA)
    adoptions = []
    migrate(owner_url, schema=TEST_DB_SCHEMA, adopt_measurements=True, on_adopted=adoptions.append)
    assert [(a.rows_before, a.rows_kept, a.rows_set_aside) for a in adoptions] == [(before[0], before[0], 0)]
    with connect(owner_url, schema=TEST_DB_SCHEMA) as owner:
        assert _contents(owner, "measurements") == before
        assert owner.execute("SELECT to_regclass('measurements_set_aside')").fetchone()[0] is None
        assert owner.execute("SELECT checksum FROM schema_migrations WHERE version = 1").fetchone()[0] == seed.checksum


def test_heimdalls_websdr_stations_in_our_schema_stops_the_migration_that_creates_ours(new_database):
    owner_url, _, _ = new_database
    with connect(owner_url, schema=TEST_DB_SCHEMA) as owner:
        owner.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(TEST_DB_SCHEMA)))
        owner.execute(sql.SQL(HEIMDALL_STATIONS).format(table=sql.Identifier("websdr_stations")))
        owner.execute("INSERT INTO websdr_stations (name, url, is_active) VALUES ('Heimdall one', 'http://one/', TRUE)")
    with pytest.raises(MigrationError) as raised:
        migrate(owner_url, schema=TEST_DB_SCHEMA)
    assert str(raised.value) == (
        f'0002_websdr_stations.sql: relation "websdr_stations" already exists in schema {TEST_DB_SCHEMA}, and it is not '
        "ours (no migration recorded it): another application's table? Set HEIMDALL_DB_SCHEMA to a schema of its own "
        "for heimdall-pipeline (README, 'Beside Heimdall's database')"
    )
    with connect(owner_url, schema=TEST_DB_SCHEMA) as owner:
        assert owner.execute("SELECT name, url, is_active FROM websdr_stations").fetchall() == [
            ("Heimdall one", "http://one/", True)
        ]
        assert [v for (v,) in owner.execute("SELECT version FROM schema_migrations")] == [1]  # stopped at 0002


# Heimdall's own schema as its init script (db/01-init.sql) lays it out: UUID keys, its stations.
HEIMDALL_INIT = (
    HEIMDALL_WEBSDR_STATIONS
    + """
CREATE TABLE heimdall.measurements (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    websdr_station_id UUID REFERENCES heimdall.websdr_stations (id),
    frequency_hz BIGINT NOT NULL,
    timestamp TIMESTAMPTZ NOT NULL,
    snr_db DOUBLE PRECISION,
    frequency_offset_hz INTEGER,
    signal_strength_db DOUBLE PRECISION,
    iq_data_location TEXT,
    iq_sample_rate INTEGER,
    iq_samples_count INTEGER,
    recording_session_id UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO heimdall.websdr_stations (name, url, latitude, longitude)
SELECT 'Station ' || n, 'http://s' || n || '/', 45 + n / 100.0, 7 + n / 100.0 FROM generate_series(1, 7) AS n;
INSERT INTO heimdall.measurements (websdr_station_id, frequency_hz, timestamp, snr_db, iq_data_location)
SELECT s.id, 145500000, '2025-03-10 12:00+00'::timestamptz + n * interval '1 minute', 10 + n % 7, 'sessions/x/' || n || '.npy'
FROM heimdall.websdr_stations s, generate_series(1, 20) AS n;
"""
)


def _heimdall_schema_contents(conn) -> tuple:
    return tuple(
        conn.execute(f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY t.id)) FROM heimdall.{table} t").fetchone()
        for table in ("websdr_stations", "measurements")
    )


def test_the_recommended_schema_runs_beside_heimdalls_own_heimdall_schema(new_database, role_urls, edition):
    """The README recommended HEIMDALL_DB_SCHEMA=heimdall, which is Heimdall's own schema: our guard
    would refuse its UUID-keyed measurements. The recommendation is now heimdall_pipeline."""
    owner_url, pipeline_url, reader_url = new_database
    with connect(owner_url, schema="public") as owner:
        owner.execute(HEIMDALL_INIT)
        before = _heimdall_schema_contents(owner)
    # The old advice: our migrations in Heimdall's schema are refused, and change nothing.
    with pytest.raises(MigrationError, match="schema heimdall already has a measurements table"):
        migrate(owner_url, schema="heimdall")

    ours = "heimdall_pipeline"
    migrate(owner_url, schema=ours)
    with connect(owner_url, schema=ours) as owner:
        apply_grants(owner, _user(role_urls.pipeline), _user(role_urls.reader), ours)
    inserted, _ = _load_and_report(pipeline_url, reader_url, ours)

    with connect(owner_url, schema="public") as owner:
        assert _heimdall_schema_contents(owner) == before  # Heimdall's, untouched
        assert (
            owner.execute(sql.SQL("SELECT count(*) FROM {}.measurements").format(sql.Identifier(ours))).fetchone()[0]
            == inserted
            > 0
        )
        for role in {_user(role_urls.pipeline), _user(role_urls.reader)} - {_user(role_urls.owner)}:
            assert not owner.execute("SELECT has_table_privilege(%s, 'heimdall.measurements', 'SELECT')", (role,)).fetchone()[0]
