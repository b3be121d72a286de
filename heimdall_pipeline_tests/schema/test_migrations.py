"""The migration runner against the real TimescaleDB: fresh database, re-runs, the checksum guard."""

from __future__ import annotations

import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.ingest.loader import load_measurements
from heimdall_pipeline.lifecycle.health import compression_layout
from heimdall_pipeline.schema import migrations
from heimdall_pipeline.schema.migrations import MIGRATIONS_DIR, MigrationError, discover, migrate
from heimdall_pipeline.schema.stations import stations_at, sync_stations
from heimdall_pipeline_tests.conftest import _with_database, drop_database
from heimdall_pipeline_tests.measurement_rows import realistic_day


@pytest.fixture
def empty_database_url(admin_database_url, role_urls):
    """A new database owned by the owner role, without even the extension: the owner creates it
    (TimescaleDB is a trusted extension, so the database owner may), then the schema."""
    name = f"heimdall_migrations_{uuid.uuid4().hex[:10]}"
    owner = urlsplit(role_urls.owner).username
    with connect(admin_database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner)))
    yield _with_database(role_urls.owner, name)
    drop_database(admin_database_url, name)


def migrations_before(name: str, tmp_path) -> Path:
    """A directory holding the migrations older than the one named `name`."""
    (split,) = [m for m in discover() if m.name == name]
    earlier = tmp_path / f"before_{name}"
    earlier.mkdir()
    for m in discover():
        if m.version < split.version:
            shutil.copy(m.path, earlier / m.path.name)
    return earlier


def _columns(conn, table):
    return conn.execute(
        """
        SELECT column_name, data_type, is_nullable
        FROM information_schema.columns WHERE table_name = %s ORDER BY ordinal_position
        """,
        (table,),
    ).fetchall()


def test_fresh_database_gets_the_seed_schema_and_a_rerun_applies_nothing(empty_database_url, edition):
    applied = migrate(empty_database_url)
    assert [m.path.name for m in applied] == [m.path.name for m in discover() if m.applies_to(edition)]
    assert {m.edition for m in applied} <= {None, edition}
    assert migrate(empty_database_url) == []

    with connect(empty_database_url, autocommit=False) as conn:
        assert _columns(conn, "measurements") == [
            ("id", "bigint", "NO"),
            ("task_id", "text", "NO"),
            ("websdr_id", "integer", "NO"),
            ("frequency_mhz", "double precision", "NO"),
            ("sample_rate_khz", "double precision", "NO"),
            ("samples_count", "integer", "NO"),
            ("timestamp_utc", "timestamp with time zone", "NO"),
            ("snr_db", "double precision", "YES"),
            ("frequency_offset_hz", "double precision", "YES"),
            ("power_dbm", "double precision", "YES"),
            ("s3_path", "text", "YES"),
        ]
        primary_key = conn.execute(
            """
            SELECT array_agg(a.attname ORDER BY k.ord)
            FROM pg_index i
            JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) ON TRUE
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
            WHERE i.indrelid = 'measurements'::regclass AND i.indisprimary
            """
        ).fetchone()[0]
        assert primary_key == ["task_id", "websdr_id", "timestamp_utc"]
        indexes = dict(conn.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'measurements'").fetchall())
        assert set(indexes) == {
            "measurements_pkey",
            "idx_measurements_websdr_time",
            "idx_measurements_task_time",
            "idx_measurements_frequency",
        }
        assert "(websdr_id, timestamp_utc DESC)" in indexes["idx_measurements_websdr_time"]
        assert "(task_id, timestamp_utc DESC)" in indexes["idx_measurements_task_time"]
        assert "(frequency_mhz, timestamp_utc DESC)" in indexes["idx_measurements_frequency"]
        dimension = conn.execute(
            """
            SELECT column_name, time_interval FROM timescaledb_information.dimensions
            WHERE hypertable_name = 'measurements'
            """
        ).fetchone()
        assert dimension[0] == "timestamp_utc"
        assert dimension[1].days == 1 and dimension[1].seconds == 0
        recorded = [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY version")]
        community_only = [m.version for m in discover() if m.edition == "timescale"]
        assert_compression_matches_edition(conn, edition)
        iq_compressed = conn.execute(
            "SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_name = 'iq_metrics'"
        ).fetchone()[0]
        assert iq_compressed is (edition == "timescale")
        # Never a retention policy that drops unarchived data, on either edition.
        assert measurements_jobs(conn, "policy_retention") == []
    if edition == "apache":
        assert not set(community_only) & set(recorded)  # recorded only where they ran
    else:
        assert set(community_only) <= set(recorded)


def measurements_jobs(conn, proc_name: str) -> list[tuple]:
    """(schedule_interval, compress_after) of the measurements jobs running `proc_name`."""
    return conn.execute(
        """
        SELECT schedule_interval, (config->>'compress_after')::interval FROM timescaledb_information.jobs
        WHERE proc_name = %s AND hypertable_name = 'measurements'
        """,
        (proc_name,),
    ).fetchall()


def assert_compression_matches_edition(conn, edition: str) -> None:
    """Apache: no compression and no policy. Community: the chosen layout and a 7-day policy."""
    enabled = conn.execute(
        "SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_name = 'measurements'"
    ).fetchone()[0]
    layout = compression_layout(conn)
    policies = measurements_jobs(conn, "policy_compression")
    if edition == "apache":
        assert enabled is False
        assert layout == ([], [])
        assert policies == []
        return
    assert edition == "timescale"
    assert enabled is True
    assert layout == COMMUNITY_LAYOUT
    assert len(policies) == 1
    schedule_interval, compress_after = policies[0]
    assert compress_after == timedelta(days=7)
    # TimescaleDB's default for a compression policy: half the chunk interval (1 day).
    assert schedule_interval == timedelta(hours=12)


# segmentby columns, orderby columns with direction (see the README: "Compression layout").
COMMUNITY_LAYOUT = (["websdr_id"], ["timestamp_utc DESC"])


def test_edition_is_detected_from_the_license(empty_database_url):
    with connect(empty_database_url, autocommit=True) as conn:
        edition = migrations.ensure_timescaledb(conn)
        assert edition in migrations.EDITIONS
        assert edition == conn.execute("SELECT current_setting('timescaledb.license')").fetchone()[0]
        # What the edition can do, independently of the name: only Community compresses.
        conn.execute("CREATE TABLE probe (t timestamptz NOT NULL, v int)")
        conn.execute("SELECT create_hypertable('probe', 't')")
        if edition == "apache":
            with pytest.raises(psycopg.errors.FeatureNotSupported, match='"apache" license'):
                conn.execute("ALTER TABLE probe SET (timescaledb.compress)")
        else:
            conn.execute("ALTER TABLE probe SET (timescaledb.compress)")
            assert (
                conn.execute(
                    "SELECT compression_enabled FROM timescaledb_information.hypertables WHERE hypertable_name = 'probe'"
                ).fetchone()[0]
                is True
            )


def test_edition_specific_migrations_apply_only_on_their_edition(empty_database_url, edition, tmp_path, monkeypatch):
    (tmp_path / "0001_base.sql").write_text("CREATE TABLE base (id int);")
    (tmp_path / "0002_compress.timescale.sql").write_text("CREATE TABLE community_only (id int);")
    (tmp_path / "0003_apache.apache.sql").write_text("CREATE TABLE apache_only (id int);")
    own, other = {"apache": ("apache", "compress"), "timescale": ("compress", "apache")}[edition]

    applied = migrate(empty_database_url, tmp_path)
    assert [m.name for m in applied] == ["base", own]

    # The same database later running the other edition gets what it had not applied.
    other_edition = "timescale" if edition == "apache" else "apache"
    monkeypatch.setattr(migrations, "ensure_timescaledb", lambda conn: other_edition)
    applied = migrate(empty_database_url, tmp_path)
    assert [m.name for m in applied] == [other]
    with connect(empty_database_url, autocommit=False) as conn:
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
    assert {"base", "community_only", "apache_only"} <= tables


def test_the_production_compression_migrations_target_the_community_edition():
    compression = [m for m in discover() if "compress" in m.path.read_text()]
    assert {m.edition for m in compression} == {"timescale"}
    first, layout = [m for m in compression if "ALTER TABLE measurements" in m.path.read_text()]
    (iq_layout,) = [m for m in compression if "ALTER TABLE iq_metrics" in m.path.read_text()]
    # iq_metrics is compressed as measurements is: one segment per receiver, by time, after 7 days.
    iq_sql = iq_layout.path.read_text()
    assert "compress_segmentby = 'websdr_id'" in iq_sql and "compress_orderby = 'timestamp_utc DESC'" in iq_sql
    assert "add_compression_policy('iq_metrics', INTERVAL '7 days'" in iq_sql
    # 0004 (the seed's layout, one row per batch) is immutable; 0009 replaces its layout.
    assert "compress_segmentby = 'websdr_id, task_id'" in first.path.read_text()
    assert "add_compression_policy('measurements', INTERVAL '7 days'" in first.path.read_text()
    sql = layout.path.read_text()
    assert layout.version > first.version
    assert "compress_segmentby = 'websdr_id'" in sql and "compress_orderby = 'timestamp_utc DESC'" in sql
    # Chunks compressed with the old layout are decompressed before and compressed after the ALTER.
    assert sql.index("decompress_chunk(") < sql.index("ALTER TABLE measurements") < sql.index("SELECT compress_chunk(")
    # Only functions: procedures (convert_to_columnstore, recompress_chunk) commit inside and
    # cannot run in the runner's transaction.
    assert "CALL " not in sql.upper()
    # No migration may add the seed's retention policy: retention is archive-then-drop.
    assert not any("add_retention_policy(" in m.path.read_text() for m in discover())


def test_the_layout_migration_recompresses_chunks_compressed_with_the_old_layout(empty_database_url, edition, tmp_path):
    (layout_migration,) = [m for m in discover() if m.name == "measurements_compression_layout"]
    migrate(empty_database_url, migrations_before(layout_migration.name, tmp_path))
    with connect(empty_database_url) as conn:
        for day in (date(2025, 1, 2), date(2025, 1, 3)):
            load_measurements(conn, realistic_day(day, sessions=400))
        rows = conn.execute("SELECT * FROM measurements ORDER BY task_id, websdr_id, timestamp_utc").fetchall()
        if edition == "timescale":  # a production database: days compressed by 0004's policy
            # The policy's background run may be compressing them right now: pause it, and take
            # a chunk it compressed first (same old layout) as compressed.
            conn.execute(
                "SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs "
                "WHERE proc_name = 'policy_compression'"
            )
            for (chunk,) in conn.execute("SELECT c::text FROM show_chunks('measurements') AS c").fetchall():
                try:
                    conn.execute("SELECT compress_chunk(%s::regclass)", (chunk,))
                except psycopg.errors.DuplicateObject:
                    pass  # "already compressed": the background run got there first
            assert chunk_layouts(conn) == {("websdr_id,task_id", "timestamp_utc DESC")}

    applied = [m.path.name for m in migrate(empty_database_url)]
    assert applied == [m.path.name for m in discover() if m.version >= layout_migration.version and m.applies_to(edition)]

    with connect(empty_database_url) as conn:
        assert conn.execute("SELECT * FROM measurements ORDER BY task_id, websdr_id, timestamp_utc").fetchall() == rows
        compressed = conn.execute(
            "SELECT count(*) FILTER (WHERE is_compressed), count(*) FROM timescaledb_information.chunks "
            "WHERE hypertable_name = 'measurements'"
        ).fetchone()
        if edition == "apache":
            assert layout_migration.path.name not in applied
            assert compressed == (0, 2) and chunk_layouts(conn) == set()
            return
        assert layout_migration.path.name in applied
        assert compressed == (2, 2)  # compressed again, not left for a policy that may not run
        assert chunk_layouts(conn) == {("websdr_id", "timestamp_utc DESC")}
        before, after = conn.execute(
            "SELECT before_compression_total_bytes, after_compression_total_bytes "
            "FROM hypertable_compression_stats('measurements')"
        ).fetchone()
        assert after < before  # the old layout made the table bigger


def chunk_layouts(conn) -> set[tuple[str, str]]:
    """(segmentby, orderby) of the compressed chunks of measurements, as TimescaleDB recorded them."""
    return set(
        conn.execute(
            "SELECT segmentby, orderby FROM timescaledb_information.chunk_compression_settings "
            "WHERE hypertable = 'measurements'::regclass"
        ).fetchall()
    )


def test_a_changed_applied_migration_stops_the_runner(empty_database_url, tmp_path):
    directory = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, directory)
    migrate(empty_database_url, directory)
    changed = directory / "0002_websdr_stations.sql"
    changed.write_text(changed.read_text() + "\n-- edited after release\n")
    with pytest.raises(MigrationError, match="0002_websdr_stations.sql changed after it was applied"):
        migrate(empty_database_url, directory)


def test_a_failing_migration_rolls_back_and_is_not_recorded(empty_database_url, tmp_path):
    (tmp_path / "0001_good.sql").write_text("CREATE TABLE good (id int);")
    (tmp_path / "0002_bad.sql").write_text("CREATE TABLE half (id int); SELECT no_such_function();")
    with pytest.raises(psycopg.Error):
        migrate(empty_database_url, tmp_path)
    with connect(empty_database_url, autocommit=False) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM schema_migrations")] == ["good"]
        assert conn.execute("SELECT to_regclass('half')").fetchone()[0] is None


def test_badly_named_migration_files_are_refused(tmp_path):
    (tmp_path / "create_things.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="NNNN_name"):
        discover(tmp_path)


def test_concurrent_runners_apply_each_migration_once(empty_database_url):
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: migrate(empty_database_url), range(2)))
    assert sorted(len(r) for r in results)[0] == 0
    with connect(empty_database_url, autocommit=False) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations")]
    assert len(versions) == len(set(versions)) == sum(len(r) for r in results)


def test_cli_reports_up_to_date_and_the_grants_it_reapplied(owner_database_url, edition, capsys):
    assert migrations.main(["--database-url", owner_database_url]) == 0
    out = capsys.readouterr().out
    assert "schema is up to date" in out and f"timescaledb edition: {edition}\n" in out
    grants = [line for line in out.splitlines() if line.startswith("grants: ")]
    assert grants[0].startswith("grants: heimdall_pipeline: SELECT/INSERT/UPDATE/DELETE on ingest_ledger, ")
    assert "drop_archived_day_chunks" not in grants[0], "only retention's role drops days"
    assert "SELECT on measurement_archive_writes, measurement_archives, " in grants[0]
    assert grants[1].startswith("grants: heimdall_reader: SELECT on ingest_ledger, ")
    assert "INSERT" not in grants[1]
    assert grants[2].startswith(
        "grants: heimdall_archiver: SELECT/INSERT/UPDATE/DELETE on ingest_ledger, iq_metrics, "
        "measurement_archive_writes, measurement_archives, "
    )
    assert "EXECUTE on drop_archived_day_chunks(date)" in grants[2]
    assert "postgresql://" not in out  # the URL and its password are never printed


def test_websdr_stations_hold_heimdall_receiver_list_exactly(database_url):
    # Heimdall's receiver list as its acquisition router numbers it today: the active stations by
    # name (the seed's order, Torino 3, is the version before 0021's cut-over: test_stations.py).
    bands = ["144-146", "430-440"]
    expected = [
        (1, "Aquila di Giaveno", "http://sdr1.ik1jns.it:8076/", "Giaveno, Italy", 45.02, 7.29),
        (2, "Coazze", "http://94.247.189.130:8076/", "Coazze, Italy", 45.03, 7.27),
        (3, "Genova", "http://iq1zw.ddns.net:42154/", "Genova, Italy", 44.395, 8.956),
        (4, "Milano - Baggio", "http://iu2mch.duckdns.org:8073/", "Milano (Baggio), Italy", 45.478, 9.123),
        (5, "Montanaro", "http://cbfenis.ddns.net:43510/", "Montanaro, Italy", 45.234, 7.857),
        (6, "Passo del Giovi", "http://iz1mlt.ddns.net:8074/", "Passo del Giovi, Italy", 44.561, 8.956),
        (7, "Torino", "http://vst-aero.it:8073/", "Torino, Italy", 45.044, 7.672),
    ]
    with connect(database_url, autocommit=False) as conn:
        stored = conn.execute(
            "SELECT id, name, url, location, latitude, longitude, bands, active, timeout_seconds, retry_count "
            "FROM websdr_stations ORDER BY id"
        ).fetchall()
    assert stored == [(*receiver, bands, True, 30, 3) for receiver in expected]


VERSIONS = "SELECT version_id, websdr_id, name, url, valid_during::text FROM websdr_station_versions ORDER BY version_id"


def test_0021_leaves_a_receiver_list_changed_since_the_cut_over_as_it_is(empty_database_url, tmp_path):
    """Heimdall began numbering by name at 0021's cut-over; a list an operator changed after it
    (here: Genova's URL, in the seed's numbering) is theirs, and 0021 does not renumber under it."""
    migrate(empty_database_url, migrations_before("websdr_ids_by_name", tmp_path))
    edited_at = datetime(2026, 2, 1, tzinfo=UTC)
    with connect(empty_database_url) as conn:
        seed = [v.station for v in stations_at(conn)]
        edited = [replace(s, url="http://iq1zw.ddns.net:42155/") if s.key == "genova" else s for s in seed]
        sync_stations(conn, edited, effective_at=edited_at, recorded_by="operator", source="stations.yaml")
        before = conn.execute(VERSIONS).fetchall()
    assert [s.name for s in seed][:3] == ["Aquila di Giaveno", "Montanaro", "Torino"]

    assert "websdr_ids_by_name" in [m.name for m in migrate(empty_database_url)]
    with connect(empty_database_url) as conn:
        assert conn.execute(VERSIONS).fetchall() == before
        assert [v.station for v in stations_at(conn)] == edited
        assert conn.execute("SELECT count(*) FROM websdr_station_changes WHERE recorded_by = 'migration 0021'").fetchone()[0] == 0


def test_0014_sends_old_duplicates_back_to_pending_to_be_compared(empty_database_url, edition, tmp_path):
    """'duplicate' could be the same measurement or a conflict; the ledger never kept the object's
    values, so the object is fetched again. Only a row whose day retention dropped is not."""
    migrate(empty_database_url, migrations_before("ledger_present_conflict", tmp_path))
    ledger_row = (
        "INSERT INTO ingest_ledger (object_key, etag, size_bytes, last_modified, status, reason, task_id, websdr_id,"
        " timestamp_utc, processed_at) VALUES (%s, 'e', 300, '2025-03-02 12:00Z', %s, %s, %s, 1, %s, now())"
    )
    with connect(empty_database_url) as conn:
        conn.execute(ledger_row, ("sessions/a/websdr_1_metadata.json", "duplicate", None, "a", "2025-03-02 10:00Z"))
        conn.execute(ledger_row, ("sessions/old/websdr_1_metadata.json", "duplicate", None, "old", "2025-01-05 10:00Z"))
        conn.execute(ledger_row, ("sessions/b/websdr_1_metadata.json", "loaded", None, "b", "2025-03-02 10:00Z"))
        conn.execute(ledger_row, ("sessions/c/websdr_1_metadata.json", "rejected", "not_json: x", None, None))
        conn.execute(
            "INSERT INTO measurement_archives (day, object_key, row_count, checksum, dropped_at)"
            " VALUES ('2025-01-05', 'archive/x.parquet', 1, 'c', now())"
        )

    migrate(empty_database_url)

    with connect(empty_database_url) as conn:
        rows = dict(
            (key, rest)
            for key, *rest in conn.execute(
                "SELECT object_key, status, reason, task_id, processed_at IS NULL, attempts FROM ingest_ledger"
            )
        )
        assert rows["sessions/a/websdr_1_metadata.json"] == ["pending", None, None, True, 0]
        status, reason, task_id, _, _ = rows["sessions/old/websdr_1_metadata.json"]
        assert (status, task_id) == ("present", "old") and "not compared" in reason
        assert rows["sessions/b/websdr_1_metadata.json"] == ["loaded", None, "b", False, 0]
        assert rows["sessions/c/websdr_1_metadata.json"][:2] == ["rejected", "not_json: x"]
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE ingest_ledger SET status = 'duplicate' WHERE object_key = 'sessions/b/websdr_1_metadata.json'")
        conn.rollback()
        with pytest.raises(psycopg.errors.CheckViolation):  # a conflict says why
            conn.execute("UPDATE ingest_ledger SET status = 'conflict' WHERE object_key = 'sessions/b/websdr_1_metadata.json'")
