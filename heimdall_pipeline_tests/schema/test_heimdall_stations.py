"""`heimdall-stations sync --from-heimdall-db`: Heimdall's own station table (UUID keys, name,
coordinates, is_active, as its db/01-init.sql lays it out, in a database of its own) numbered as
Heimdall numbers it, before and after a deactivation, read over a connection that cannot write."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlsplit

import psycopg
import pytest
from psycopg import sql

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.schema import stations
from heimdall_pipeline.schema.heimdall_stations import heimdall_connection, read_heimdall_stations
from heimdall_pipeline.schema.stations import number_stations, stations_at
from heimdall_pipeline_tests.conftest import _with_database, drop_database
from heimdall_pipeline_tests.heimdall_tables import HEIMDALL_WEBSDR_STATIONS
from heimdall_pipeline_tests.measurement_rows import utc
from heimdall_pipeline_tests.schema.test_stations import AFTER_T, BY_NAME, names_at, table_state

# Heimdall's seed (db/01-init.sql), in its order: insertion order is not the numbering.
HEIMDALL_INIT = (
    HEIMDALL_WEBSDR_STATIONS
    + """
INSERT INTO heimdall.websdr_stations
    (name, url, country, latitude, longitude, is_active, timeout_seconds, retry_count, location_description)
VALUES
    ('Aquila di Giaveno', 'http://sdr1.ik1jns.it:8076', 'Italy', 45.03, 7.27, TRUE, 30, 3, 'Aquila, Giaveno, Turin'),
    ('Montanaro', 'http://cbfenis.ddns.net:43510', 'Italy', 45.234, 7.857, TRUE, 30, 3, 'Montanaro, Italy'),
    ('Torino', 'http://vst-aero.it:8073', 'Italy', 45.044, 7.672, TRUE, 30, 3, 'Torino, Italy'),
    ('Coazze', 'http://94.247.189.130:8076', 'Italy', 45.03, 7.27, TRUE, 30, 3, 'Coazze, Italy'),
    ('Passo del Giovi', 'http://iz1mlt.ddns.net:8074', 'Italy', 44.561, 8.956, TRUE, 30, 3, 'Passo del Giovi, Italy'),
    ('Genova', 'http://iq1zw.ddns.net:42154', 'Italy', 44.395, 8.956, TRUE, 30, 3, 'Genova, Italy'),
    ('Milano - Baggio', 'http://iu2mch.duckdns.org:8073', 'Italy', 45.478, 9.123, TRUE, 30, 3, 'Milano (Baggio), Italy');
"""
)
T1, T2, T3 = utc(2026, 3, 1, 9), utc(2026, 3, 8, 9), utc(2026, 3, 15, 9)


@pytest.fixture
def heimdall_url(admin_database_url, role_urls) -> str:
    """Heimdall's database, its stations seeded; the URL of a role that could write to it."""
    name = f"heimdall_source_{uuid.uuid4().hex[:10]}"
    owner = urlsplit(role_urls.owner).username
    with connect(admin_database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(owner)))
    url = _with_database(role_urls.owner, name)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(HEIMDALL_INIT)
    yield url
    drop_database(admin_database_url, name)


def heimdall_ids(url: str, table: str = "heimdall.websdr_stations") -> dict[int, str]:
    """Heimdall's numbering, by its own code: enumerate(get_active_websdrs(), start=1)."""
    with psycopg.connect(url) as conn:
        active = conn.execute(f"SELECT name FROM {table} WHERE is_active ORDER BY name").fetchall()
    return {websdr_id: name for websdr_id, (name,) in enumerate(active, start=1)}


def heimdall_table(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT * FROM heimdall.websdr_stations ORDER BY id").fetchall()


def where(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


def sync_from(database_url: str, heimdall: str, at, *extra: str) -> int:
    return stations.main(
        [
            "--database-url",
            database_url,
            "sync",
            "--from-heimdall-db",
            heimdall,
            "--effective-at",
            at.isoformat(),
            "--by",
            "anna",
            *extra,
        ]
    )


def test_sync_from_heimdalls_table_numbers_as_heimdall_before_and_after_a_deactivation(stations_restored, heimdall_url, capsys):
    source = f"heimdall.websdr_stations at {where(heimdall_url)}"
    seeded = heimdall_table(heimdall_url)

    # The shipped list already numbers as Heimdall: the sync takes Heimdall's values, renumbers nothing.
    assert sync_from(stations_restored, heimdall_url, T1) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == f"changes effective {T1.isoformat()}:" and out[-1] == "7 change(s) written"
    assert all(line.startswith("  edited       ") for line in out[1:-1]), out
    assert (
        "  edited       Aquila di Giaveno [aquila-di-giaveno] websdr 1: url: 'http://sdr1.ik1jns.it:8076/' -> "
        "'http://sdr1.ik1jns.it:8076'; location: 'Giaveno, Italy' -> 'Aquila, Giaveno, Turin'; latitude: 45.02 -> 45.03; "
        "longitude: 7.29 -> 7.27" in out
    )
    assert names_at(stations_restored, T1) == heimdall_ids(heimdall_url) == dict(enumerate(BY_NAME, start=1))
    with connect(stations_restored) as conn:
        now = [v.station for v in stations_at(conn, T1)]
        logged = {(c.source, c.recorded_by) for c in stations.change_log(conn) if c.effective_at == T1}
    # Heimdall's table has no keys and no bands: each station keeps the list's.
    assert {(s.key, s.bands) for s in now} == {(stations.station_key(n), ("144-146", "430-440")) for n in BY_NAME}
    assert logged == {(source, "anna")}  # where from, never with a password

    # Idempotent.
    state = table_state(stations_restored)
    assert sync_from(stations_restored, heimdall_url, T1 + timedelta(days=1)) == 0
    assert capsys.readouterr().out == f"no changes: the station list already matches {source}\n"
    assert table_state(stations_restored) == state
    assert heimdall_table(heimdall_url) == seeded  # and Heimdall's table as it was

    # Coazze deactivated in Heimdall: Genova becomes 2, Milano - Baggio 3, ..., Torino 6.
    with psycopg.connect(heimdall_url) as conn:
        conn.execute("UPDATE heimdall.websdr_stations SET is_active = FALSE WHERE name = 'Coazze'")
    assert sync_from(stations_restored, heimdall_url, T2) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"changes effective {T2.isoformat()}:",
        "  renumbered   Genova [genova] websdr 3 -> 2",
        "  renumbered   Milano - Baggio [milano-baggio] websdr 4 -> 3",
        "  renumbered   Montanaro [montanaro] websdr 5 -> 4",
        "  renumbered   Passo del Giovi [passo-del-giovi] websdr 6 -> 5",
        "  renumbered   Torino [torino] websdr 7 -> 6",
        "  deactivated  Coazze [coazze] websdr 2 -> -",
        "6 change(s) written",
    ]
    assert names_at(stations_restored, T2) == heimdall_ids(heimdall_url) == AFTER_T
    assert names_at(stations_restored, T2 - timedelta(microseconds=1)) == dict(enumerate(BY_NAME, start=1))

    # A station new to Heimdall, first by name, and one whose is_active is NULL (Heimdall's
    # `WHERE is_active` leaves it out): every id moves, as Heimdall's do.
    with psycopg.connect(heimdall_url) as conn:
        conn.execute(
            "INSERT INTO heimdall.websdr_stations (name, url, latitude, longitude, country) "
            "VALUES ('Alba', 'http://alba.example:8073', 44.7, 8.03, NULL)"
        )
        conn.execute("UPDATE heimdall.websdr_stations SET is_active = NULL WHERE name = 'Torino'")
    assert sync_from(stations_restored, heimdall_url, T3) == 0
    assert "  added        Alba [alba] websdr - -> 1" in capsys.readouterr().out
    assert (
        names_at(stations_restored, T3)
        == heimdall_ids(heimdall_url)
        == {
            1: "Alba",
            2: "Aquila di Giaveno",
            3: "Genova",
            4: "Milano - Baggio",
            5: "Montanaro",
            6: "Passo del Giovi",
        }
    )
    with connect(stations_restored) as conn:
        (alba,) = [v.station for v in stations_at(conn, T3) if v.station.key == "alba"]
    # Heimdall's fallbacks: location from name and country ('Italy' when none), no bands known.
    assert (alba.location, alba.bands, alba.timeout_seconds, alba.retry_count) == ("Alba, Italy", (), 30, 3)


def test_the_connection_to_heimdall_cannot_write(heimdall_url):
    with heimdall_connection(heimdall_url) as conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone()[0] == "on"
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            with conn.transaction():
                assert conn.execute("SHOW transaction_read_only").fetchone()[0] == "on"
                conn.execute("UPDATE heimdall.websdr_stations SET is_active = FALSE")
    assert heimdall_ids(heimdall_url) == dict(enumerate(BY_NAME, start=1))


def test_heimdalls_database_orders_the_names_by_its_own_collation(stations_restored, heimdall_url, capsys):
    """Read from Heimdall's table, the order is its database's (here ICU's en-US, where 'bra' sorts
    between Aquila and Coazze), not the code-point order a file is numbered by."""
    with psycopg.connect(heimdall_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_collation WHERE collname = 'en-US-x-icu'").fetchone():
            pytest.skip("this PostgreSQL has no ICU collations")
        conn.execute("CREATE SCHEMA heimdall_icu")
        conn.execute("CREATE TABLE heimdall_icu.websdr_stations (LIKE heimdall.websdr_stations INCLUDING ALL)")
        conn.execute('ALTER TABLE heimdall_icu.websdr_stations ALTER COLUMN name TYPE VARCHAR(255) COLLATE "en-US-x-icu"')
        conn.execute("INSERT INTO heimdall_icu.websdr_stations SELECT * FROM heimdall.websdr_stations")
        conn.execute(
            "INSERT INTO heimdall_icu.websdr_stations (name, url, latitude, longitude) VALUES ('bra', "
            "'http://bra.example/', 44.7, 7.85)"
        )
    expected = heimdall_ids(heimdall_url, "heimdall_icu.websdr_stations")
    assert expected[2] == "bra"

    assert sync_from(stations_restored, heimdall_url, T1, "--heimdall-table", "heimdall_icu.websdr_stations") == 0
    assert "  added        bra [bra] websdr - -> 2" in capsys.readouterr().out
    assert names_at(stations_restored, T1) == expected
    # The same names numbered as a file is: 'bra' after 'Torino'.
    rows = read_heimdall_stations(heimdall_url, "heimdall_icu.websdr_stations")
    as_a_file = number_stations("file", [replace(s, websdr_id=None) for s in stations.from_heimdall(rows, [])])
    assert [s.name for s in as_a_file if s.active][-1] == "bra"


def test_a_source_that_cannot_be_read_is_refused_in_one_line_and_nothing_changes(stations_restored, heimdall_url, capsys):
    before = table_state(stations_restored)
    source = f"heimdall.websdr_stations at {where(heimdall_url)}"
    with psycopg.connect(heimdall_url) as conn:
        (coazze,) = conn.execute(
            "UPDATE heimdall.websdr_stations SET url = 'ftp://coazze' WHERE name = 'Coazze' RETURNING id"
        ).fetchone()
    refusals = [
        (
            ["--heimdall-table", "heimdall.nope"],
            f'heimdall.nope at {where(heimdall_url)}: relation "heimdall.nope" does not exist',
        ),
        (
            ["--heimdall-table", "websdr_stations; DROP TABLE x"],
            "'websdr_stations; DROP TABLE x' is not a schema.table name, e.g. heimdall.websdr_stations",
        ),
        ([], f"{source}: station {coazze} (Coazze): url must be an http:// or https:// URL, got 'ftp://coazze'"),
    ]
    for extra, message in refusals:
        assert sync_from(stations_restored, heimdall_url, T1, *extra) == 1
        assert capsys.readouterr().err == f"heimdall-stations: {message}\n"
    with psycopg.connect(heimdall_url) as conn:
        conn.execute("ALTER TABLE heimdall.websdr_stations DROP COLUMN is_active")
    assert sync_from(stations_restored, heimdall_url, T1) == 1
    assert capsys.readouterr().err == (f"heimdall-stations: {source}: column station.is_active does not exist\n")

    assert sync_from(stations_restored, "postgresql://nobody:s3cr3t-pw@127.0.0.1:1/heimdall", T1) == 1
    err = capsys.readouterr().err
    assert err.startswith("heimdall-stations: cannot connect to ") and "s3cr3t-pw" not in err and err.count("\n") == 1
    with pytest.raises(SystemExit, match="--from-heimdall-db must be a postgresql:// URL") as raised:
        sync_from(stations_restored, "mysql://heimdall:s3cr3t-pw@db/heimdall", T1)
    assert "s3cr3t-pw" not in str(raised.value)
    assert table_state(stations_restored) == before
