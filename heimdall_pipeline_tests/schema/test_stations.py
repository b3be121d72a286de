"""The receiver list over time: the file, the sync (idempotent, dry run, one transaction), the
change log, the seed's numbering kept as the version valid until Heimdall began numbering by name,
and names at the measurement's time in the reports when a station is deactivated and the ids after
it shift (Heimdall numbers receivers by their position among the active stations ordered by name).
Syncing from Heimdall's own table: test_heimdall_stations.py."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from heimdall_pipeline.analytics.reports import build_report, coverage_heatmap
from heimdall_pipeline.core.db import connect
from heimdall_pipeline.ingest.ledger import receiver_counts, unknown_receiver_ids
from heimdall_pipeline.ingest.loader import load_measurements
from heimdall_pipeline.schema import stations
from heimdall_pipeline.schema.stations import (
    Station,
    StationFileError,
    StationSyncError,
    load_station_file,
    number_stations,
    plan_changes,
    station_key,
    stations_at,
    sync_stations,
)
from heimdall_pipeline_tests.measurement_rows import measurement, utc

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "config" / "websdr_stations.yaml"
# Heimdall's numbering today: its active stations ordered by name.
BY_NAME = ["Aquila di Giaveno", "Coazze", "Genova", "Milano - Baggio", "Montanaro", "Passo del Giovi", "Torino"]
# The seed's numbering (Heimdall's hard-coded list, in its own order), valid until CUT_OVER: the
# moment Heimdall's code began numbering by name (fulgidus/heimdall 19a828a; migration 0021).
SEED_ERA = ["Aquila di Giaveno", "Montanaro", "Torino", "Coazze", "Passo del Giovi", "Genova", "Milano - Baggio"]
CUT_OVER = utc(2025, 10, 27, 22, 59, 7)
# Heimdall's receivers.csv layout (its column names, ';'-separated bands, ids stated), its rows in
# the seed's order: the order of a file does not number it, the names do.
HEIMDALL_CSV = """websdr_id,name,url,location_name,latitude,longitude,bands_mhz,is_active,timeout_seconds,retry_count
1,Aquila di Giaveno,http://sdr1.ik1jns.it:8076/,"Giaveno, Italy",45.02,7.29,144-146;430-440,true,30,3
5,Montanaro,http://cbfenis.ddns.net:43510/,"Montanaro, Italy",45.234,7.857,144-146;430-440,true,30,3
7,Torino,http://vst-aero.it:8073/,"Torino, Italy",45.044,7.672,144-146;430-440,true,30,3
2,Coazze,http://94.247.189.130:8076/,"Coazze, Italy",45.03,7.27,144-146;430-440,true,30,3
6,Passo del Giovi,http://iz1mlt.ddns.net:8074/,"Passo del Giovi, Italy",44.561,8.956,144-146;430-440,true,30,3
3,Genova,http://iq1zw.ddns.net:42154/,"Genova, Italy",44.395,8.956,144-146;430-440,true,30,3
4,Milano - Baggio,http://iu2mch.duckdns.org:8073/,"Milano (Baggio), Italy",45.478,9.123,144-146;430-440,true,30,3
"""
# Coazze (2) deactivated at T: from T on, Genova is 2, Milano - Baggio 3, Montanaro 4, Passo del Giovi 5, Torino 6.
T = utc(2026, 7, 2, 12)
AFTER_T = {1: "Aquila di Giaveno", 2: "Genova", 3: "Milano - Baggio", 4: "Montanaro", 5: "Passo del Giovi", 6: "Torino"}


def coazze_deactivated(tmp_path: Path, suffix: str = "yaml") -> Path:
    """The shipped file with Coazze's `active: true` made false, as an operator edits it."""
    text = SHIPPED.read_text(encoding="utf-8")
    at = text.index("key: coazze")
    flag = text.index("active: true", at)
    path = tmp_path / f"stations.{suffix}"
    path.write_text(text[:flag] + "active: false" + text[flag + len("active: true") :], encoding="utf-8")
    return path


def table_state(url: str) -> tuple[list, list]:
    with connect(url, autocommit=False) as conn:
        versions = conn.execute(
            "SELECT station_key, websdr_id, name, active, valid_during::text FROM websdr_station_versions ORDER BY version_id"
        ).fetchall()
        changes = conn.execute("SELECT change_id, change, station_key FROM websdr_station_changes ORDER BY change_id").fetchall()
    return versions, changes


def names_at(url: str, at) -> dict[int, str]:
    with connect(url) as conn:
        return {v.station.websdr_id: v.station.name for v in stations_at(conn, at) if v.station.active}


# --- the file ---------------------------------------------------------------------------------


def test_the_shipped_file_numbers_the_seven_as_heimdall_does():
    listed = load_station_file(SHIPPED)
    assert [(s.websdr_id, s.name) for s in listed] == list(enumerate(BY_NAME, start=1))
    assert (listed[6].name, listed[6].websdr_id) == ("Torino", 7)
    assert listed[0] == Station(
        "aquila-di-giaveno",
        "Aquila di Giaveno",
        "http://sdr1.ik1jns.it:8076/",
        "Giaveno, Italy",
        45.02,
        7.29,
        ("144-146", "430-440"),
        True,
        30,
        3,
        1,
    )


def test_heimdalls_csv_in_another_order_reads_as_the_shipped_yaml(tmp_path):
    path = tmp_path / "receivers.csv"
    path.write_text(HEIMDALL_CSV, encoding="utf-8")
    assert load_station_file(path) == load_station_file(SHIPPED)


def test_a_list_numbered_in_the_seeds_order_is_refused(tmp_path):
    seed_era = (
        HEIMDALL_CSV.splitlines()[0]
        + "\n"
        + "".join(f"{i},{line.split(',', 1)[1]}\n" for i, line in enumerate(HEIMDALL_CSV.splitlines()[1:], start=1))
    )
    path = tmp_path / "receivers.csv"
    path.write_text(seed_era, encoding="utf-8")
    with pytest.raises(StationFileError, match=r"Coazze \[coazze\] states websdr_id 4, but .* ordered by name\) is 2$"):
        load_station_file(path)


def test_ids_shift_after_a_deactivated_station(tmp_path):
    listed = load_station_file(coazze_deactivated(tmp_path))
    assert {s.websdr_id: s.name for s in listed if s.active} == AFTER_T
    assert [(s.name, s.websdr_id) for s in listed if not s.active] == [("Coazze", None)]


def test_names_sort_by_code_point_as_postgresqls_c_collation_does(database_url):
    """Upper case before lower case, a space before a digit: what Heimdall's stock database gives
    its ORDER BY name (byte order), not a dictionary order."""
    names = ["Torino", "aosta", "Milano2", "Milano - Baggio", "Ñuñoa", "Zeri", "Coazze", "Milano"]
    stations = [replace(load_station_file(SHIPPED)[0], key=f"s{i}", name=name, websdr_id=None) for i, name in enumerate(names)]
    numbered = [s.name for s in number_stations("t", stations)]
    assert numbered == ["Coazze", "Milano", "Milano - Baggio", "Milano2", "Torino", "Zeri", "aosta", "Ñuñoa"]
    with connect(database_url) as conn:
        (by_c,) = conn.execute(
            'SELECT array_agg(name ORDER BY name COLLATE "C") FROM unnest(%s::text[]) AS name', (names,)
        ).fetchone()
    assert numbered == by_c


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda t: t.replace("    retry_count: 3\n", "    retry_count: 3\n    colour: red\n", 1),
            r"station 1 \(Aquila di Giaveno\): unknown field 'colour'",
        ),
        (lambda t: t.replace("    latitude: 45.234\n", "", 1), r"station 5 \(Montanaro\): missing latitude"),
        (lambda t: t.replace("latitude: 45.044", "latitude: 145.044"), r"\(Torino\): latitude must be within -90..90"),
        (lambda t: t.replace("bands: [144-146, 430-440]", "bands: [146-144]", 1), r"band '146-144' is not a 'low-high'"),
        (lambda t: t.replace("key: coazze", "key: torino"), r"two stations share the key 'torino'"),
        (lambda t: t.replace("active: true", "active: maybe", 1), r"active must be true or false, got 'maybe'"),
        (lambda t: t.replace("active: true", "active: false"), r"no station is active"),
        (
            lambda t: t.replace("    name: Coazze\n", "    websdr_id: 3\n    name: Coazze\n"),
            r"Coazze \[coazze\] states websdr_id 3, but its number .* is 2",
        ),
        (lambda t: t.replace("stations:", "stations: [", 1), r"not valid YAML"),
        (lambda t: "receivers:\n  - name: x\n", r"expected a mapping with a list under 'stations:'"),
    ],
)
def test_file_errors_name_the_file_and_the_station(tmp_path, edit, message):
    path = tmp_path / "stations.yaml"
    path.write_text(edit(SHIPPED.read_text(encoding="utf-8")), encoding="utf-8")
    with pytest.raises(StationFileError, match=message) as raised:
        load_station_file(path)
    assert str(raised.value).startswith(f"{path}: ")


def test_csv_and_file_type_errors(tmp_path):
    short = tmp_path / "short.csv"
    short.write_text("name,url\nTorino,http://vst-aero.it:8073/\n", encoding="utf-8")
    with pytest.raises(StationFileError, match=r"short.csv: line 2 \(Torino\): missing location, latitude, longitude, bands"):
        load_station_file(short)
    inactive_with_id = tmp_path / "inactive.csv"
    inactive_with_id.write_text(
        HEIMDALL_CSV.replace(",144-146;430-440,true,30,3\n2,", ",144-146;430-440,false,30,3\n2,"), encoding="utf-8"
    )
    with pytest.raises(
        StationFileError, match=r"Torino \[torino\] states websdr_id 7, but .* is none \(the station is inactive\)"
    ):
        load_station_file(inactive_with_id)
    with pytest.raises(StationFileError, match=r"unknown file type .txt"):
        load_station_file(tmp_path / "stations.txt")
    with pytest.raises(StationFileError, match=r"cannot read the file"):
        load_station_file(tmp_path / "absent.yaml")


# --- planning (pure) --------------------------------------------------------------------------


def test_plan_names_each_kind_of_change_and_nothing_when_equal(tmp_path):
    seven = load_station_file(SHIPPED)
    assert plan_changes(seven, seven) == []
    after = load_station_file(coazze_deactivated(tmp_path))
    after[2] = replace(after[2], url="http://iq1zw.ddns.net:42155/")  # Genova moves too
    newcomer = replace(after[0], key="zeri", name="Zeri", websdr_id=None)  # after Torino by name
    desired = number_stations("t", [*after, newcomer])
    changes = plan_changes(seven[:-1] + [replace(seven[-1], key="old-torino")], desired)
    assert [(c.kind, c.station_key, c.websdr_id_before, c.websdr_id_after) for c in changes] == [
        ("deactivated", "coazze", 2, None),
        ("renumbered", "genova", 3, 2),
        ("edited", "genova", 3, 2),
        ("renumbered", "milano-baggio", 4, 3),
        ("renumbered", "montanaro", 5, 4),
        ("renumbered", "passo-del-giovi", 6, 5),
        ("added", "torino", None, 6),
        ("added", "zeri", None, 7),
        ("removed", "old-torino", 7, None),
    ]
    assert changes[2].details == {"url": ["http://iq1zw.ddns.net:42154/", "http://iq1zw.ddns.net:42155/"]}


# --- the database -----------------------------------------------------------------------------


def test_migrations_keep_the_seeds_numbering_until_the_cut_over_then_number_by_name(database_url):
    """0016 seeded the seven in the seed's order from the start; 0021 closes the renumbered ones at
    the cut-over and opens their name-ordered versions there. The view shows the stations of now."""
    with connect(database_url) as conn:
        now = stations_at(conn)
        moved_from = {v.station.key: v.valid_from for v in now}
        assert [(v.station.websdr_id, v.station.name, v.valid_to) for v in now] == [
            (i, name, None) for i, name in enumerate(BY_NAME, start=1)
        ]
        # Aquila di Giaveno is 1 in both: one version, from the start.
        assert moved_from == {station_key(name): (None if name == "Aquila di Giaveno" else CUT_OVER) for name in BY_NAME}
        assert [v.station for v in now] == load_station_file(SHIPPED)  # the shipped file is the list of now
        seed_era = stations_at(conn, CUT_OVER - timedelta(microseconds=1))
        assert [(v.station.websdr_id, v.station.name, v.valid_from) for v in seed_era] == [
            (i, name, None) for i, name in enumerate(SEED_ERA, start=1)
        ]
        assert {v.station.key: v.valid_to for v in seed_era} == {
            k: None if v is None else CUT_OVER for k, v in moved_from.items()
        }
        assert conn.execute("SELECT count(*) FROM websdr_station_versions").fetchone()[0] == 7 + 6
        view = conn.execute("SELECT id, name, station_key FROM websdr_stations ORDER BY id").fetchall()
        assert view == [(v.station.websdr_id, v.station.name, v.station.key) for v in now]
        log = stations.change_log(conn)
    assert [(c.effective_at, c.change, c.recorded_by, c.websdr_id_after) for c in log[:7]] == [
        (None, "added", "migration 0016", i) for i in range(1, 8)
    ]
    assert [
        (c.effective_at, c.change, c.recorded_by, c.details["name"], c.websdr_id_before, c.websdr_id_after) for c in log[7:]
    ] == [
        (CUT_OVER, "renumbered", "migration 0021", name, SEED_ERA.index(name) + 1, BY_NAME.index(name) + 1)
        for name in BY_NAME[1:]
    ]


def test_syncing_the_shipped_file_changes_nothing(stations_restored, capsys):
    before = table_state(stations_restored)
    assert stations.main(["--database-url", stations_restored, "sync", str(SHIPPED)]) == 0
    assert capsys.readouterr().out == f"no changes: the station list already matches {SHIPPED}\n"
    assert table_state(stations_restored) == before


def test_deactivation_shifts_ids_from_the_effective_time_and_logs_each_change(stations_restored, tmp_path, capsys):
    path = coazze_deactivated(tmp_path)
    argv = ["--database-url", stations_restored, "sync", str(path), "--effective-at", T.isoformat(), "--by", "operator-anna"]
    assert stations.main(argv) == 0
    out = capsys.readouterr().out
    assert out.splitlines() == [
        f"changes effective {T.isoformat()}:",
        "  deactivated  Coazze [coazze] websdr 2 -> -",
        "  renumbered   Genova [genova] websdr 3 -> 2",
        "  renumbered   Milano - Baggio [milano-baggio] websdr 4 -> 3",
        "  renumbered   Montanaro [montanaro] websdr 5 -> 4",
        "  renumbered   Passo del Giovi [passo-del-giovi] websdr 6 -> 5",
        "  renumbered   Torino [torino] websdr 7 -> 6",
        "6 change(s) written",
    ]
    assert names_at(stations_restored, T - timedelta(microseconds=1)) == dict(enumerate(BY_NAME, start=1))
    assert names_at(stations_restored, T) == AFTER_T
    assert names_at(stations_restored, CUT_OVER - timedelta(microseconds=1)) == dict(enumerate(SEED_ERA, start=1))
    with connect(stations_restored) as conn:
        log = [c for c in stations.change_log(conn) if c.effective_at is not None and c.effective_at > CUT_OVER]
        (coazze,) = [v for v in stations_at(conn, T) if not v.station.active]
        owner = conn.execute("SELECT current_user").fetchone()[0]
    assert (coazze.station.key, coazze.valid_from, coazze.valid_to) == ("coazze", T, None)
    assert [(c.change, c.station_key, c.websdr_id_before, c.websdr_id_after) for c in log] == [
        ("deactivated", "coazze", 2, None),
        ("renumbered", "genova", 3, 2),
        ("renumbered", "milano-baggio", 4, 3),
        ("renumbered", "montanaro", 5, 4),
        ("renumbered", "passo-del-giovi", 6, 5),
        ("renumbered", "torino", 7, 6),
    ]
    assert {(c.effective_at, c.recorded_by, c.database_role, c.source) for c in log} == {
        (T, "operator-anna", owner, "stations.yaml")
    }

    # Idempotent: the same file again changes nothing, whatever the effective time.
    state = table_state(stations_restored)
    assert stations.main(["--database-url", stations_restored, "sync", str(path)]) == 0
    assert "no changes" in capsys.readouterr().out
    assert table_state(stations_restored) == state

    # Reactivated later: the ids shift back, the history before stays.
    later = T + timedelta(days=3)
    assert stations.main(["--database-url", stations_restored, "sync", str(SHIPPED), "--effective-at", later.isoformat()]) == 0
    assert "  reactivated  Coazze [coazze] websdr - -> 2" in capsys.readouterr().out
    assert names_at(stations_restored, later) == dict(enumerate(BY_NAME, start=1))
    assert names_at(stations_restored, T + timedelta(days=1)) == AFTER_T


def test_dry_run_prints_the_changes_and_writes_nothing(stations_restored, tmp_path, capsys):
    before = table_state(stations_restored)
    argv = ["--database-url", stations_restored, "sync", str(coazze_deactivated(tmp_path)), "--dry-run"]
    assert stations.main(argv) == 0
    out = capsys.readouterr().out
    assert "  deactivated  Coazze [coazze] websdr 2 -> -" in out
    assert out.endswith("6 change(s) (dry run: nothing written)\n")
    assert table_state(stations_restored) == before


def test_a_bad_file_or_an_effective_time_in_the_past_changes_nothing(stations_restored, tmp_path, capsys):
    before = table_state(stations_restored)
    broken = tmp_path / "broken.yaml"
    broken.write_text(SHIPPED.read_text(encoding="utf-8").replace("latitude: 45.03", "latitude: north"), encoding="utf-8")
    assert stations.main(["--database-url", stations_restored, "sync", str(broken)]) == 1
    assert capsys.readouterr().err == (
        f"heimdall-stations: {broken}: station 2 (Coazze): latitude must be a number, got 'north'\n"
    )
    assert table_state(stations_restored) == before

    with connect(stations_restored) as conn:
        # The seed's era is history too: no change may reach back before the cut-over.
        with pytest.raises(StationSyncError, match=r"is not after the list's last change \(2025-10-27T22:59:07\+00:00\)"):
            sync_stations(
                conn,
                load_station_file(coazze_deactivated(tmp_path)),
                effective_at=CUT_OVER - timedelta(days=1),
                recorded_by="t",
                source="t",
            )
        assert table_state(stations_restored) == before
        sync_stations(conn, load_station_file(coazze_deactivated(tmp_path)), effective_at=T, recorded_by="t", source="t")
        after_first = table_state(stations_restored)
        # Reactivating before the deactivation would rewrite history: refused, nothing written.
        with pytest.raises(StationSyncError, match=r"is not after the list's last change \(2026-07-02T12:00:00\+00:00\)"):
            sync_stations(conn, load_station_file(SHIPPED), effective_at=T - timedelta(hours=1), recorded_by="t", source="t")
    assert table_state(stations_restored) == after_first


def test_an_id_never_means_two_stations_at_once(stations_restored):
    with connect(stations_restored, autocommit=False) as conn:
        with pytest.raises(psycopg.errors.ExclusionViolation, match="websdr_id_means_one_station_at_a_time"):
            conn.execute(
                "INSERT INTO websdr_station_versions (station_key, websdr_id, name, url, location, latitude, longitude, "
                "bands, active, timeout_seconds, retry_count, valid_during) VALUES ('intruder', 3, 'Intruder', "
                "'http://x.example/', 'Nowhere', 0, 0, '{144-146}', TRUE, 30, 3, tstzrange(%s, 'infinity'))",
                (T,),
            )


def test_sync_is_the_owners_the_pipeline_role_is_refused_clearly(stations_restored, database_url, tmp_path, capsys):
    if database_url.split("@")[0] == stations_restored.split("@")[0]:
        pytest.skip("one role for everything: no split to test")
    before = table_state(stations_restored)
    assert stations.main(["--database-url", database_url, "sync", str(coazze_deactivated(tmp_path))]) == 1
    err = capsys.readouterr().err
    assert err.startswith("heimdall-stations: permission denied for table websdr_station_versions")
    assert "sync runs as the owner role (HEIMDALL_MIGRATE_DATABASE_URL" in err
    assert table_state(stations_restored) == before
    assert stations.main(["--database-url", database_url, "show", "--at", T.isoformat()]) == 0  # reading is anyone's
    assert "  3  genova" in capsys.readouterr().out


# --- names at the measurement's time -----------------------------------------------------------


def deactivation_rows():
    """Sessions before T heard by ids 1..7, after T by 1..6 (Heimdall's numbering then), each
    receiver's SNR its station's own number so the tests can tell stations apart."""
    snr_of = {name: 10.0 * (index + 1) for index, name in enumerate(BY_NAME)}
    rows = []
    for task, at in (("before-1", T - timedelta(hours=3)), ("before-2", T - timedelta(minutes=30))):
        rows += [measurement(task, i, at, snr_of[name], 1.0 * i) for i, name in enumerate(BY_NAME, start=1)]
    for task, at in (("after-1", T + timedelta(minutes=10)), ("after-2", T + timedelta(hours=2))):
        rows += [measurement(task, i, at, snr_of[name], 1.0 * i) for i, name in AFTER_T.items()]
    return rows, snr_of


@pytest.fixture
def deactivated_at_t(stations_restored, db, tmp_path):
    """Coazze deactivated at T, and the sessions of deactivation_rows loaded (as the pipeline)."""
    with connect(stations_restored) as owner:
        sync_stations(owner, load_station_file(coazze_deactivated(tmp_path)), effective_at=T, recorded_by="test", source="test")
    rows, snr_of = deactivation_rows()
    load_measurements(db, rows)
    return db, snr_of


def test_reports_name_the_station_that_had_the_id_at_the_measurements_time(deactivated_at_t, reader_database_url):
    _, snr_of = deactivated_at_t
    with connect(reader_database_url) as reader:  # reports read as the reader role
        performance = build_report(reader, "receiver_performance", T + timedelta(hours=3), 8).rows
        trends = build_report(reader, "snr_trends", T + timedelta(hours=3), 8)
        coverage = build_report(reader, "coverage", T + timedelta(hours=3), 8)
        recent = build_report(reader, "recent_measurements", T + timedelta(hours=3), 8).rows
        drift = build_report(reader, "frequency_drift", T + timedelta(hours=3), 8)
        grid = coverage_heatmap(reader, coverage.window, coverage.rows["station_key"].tolist())

    # One row per station, never two stations under one name, no 'websdr 7' after the shift.
    assert performance["receiver"].tolist() == BY_NAME
    by_name = performance.set_index("receiver")
    for name in BY_NAME:
        # Every measurement a station's rows hold carries its own SNR: nothing of another station.
        assert (by_name.loc[name, "snr_min_db"], by_name.loc[name, "snr_max_db"]) == (snr_of[name], snr_of[name]), name
    assert by_name.loc["Coazze", "measurement_count"] == 2  # before T only
    assert by_name.loc["Genova", "measurement_count"] == 4  # as 3 before T, as 2 after
    assert (by_name.loc["Genova", "websdr_id"], by_name.loc["Genova", "websdr_ids"]) == (2, "3, 2")
    assert (by_name.loc["Coazze", "websdr_id"], by_name.loc["Coazze", "websdr_ids"]) == (2, "2")
    assert by_name.loc["Torino", "websdr_ids"] == "7, 6"
    assert by_name.loc["Torino", "session_share_pct"] == 100.0

    # Hour by hour: id 2 is Coazze before T, Genova after.
    rows = trends.rows
    id2 = rows[rows["websdr_id"] == 2].sort_values("hour")
    assert list(zip(id2["hour"], id2["receiver"], id2["snr_avg_db"])) == [
        (utc(2026, 7, 2, 9), "Coazze", 20.0),
        (utc(2026, 7, 2, 11), "Coazze", 20.0),
        (utc(2026, 7, 2, 12), "Genova", 30.0),
        (utc(2026, 7, 2, 14), "Genova", 30.0),
    ]
    assert set(rows["receiver"]) == set(BY_NAME)
    summary = trends.summary.set_index("receiver")
    assert (summary.loc["Genova", "measurements"], summary.loc["Genova", "websdr_ids"]) == (4, "3, 2")
    assert summary.loc["Coazze", "measurements"] == 2

    # Every session was heard by every receiver active at its time: 7 before T, 6 after.
    cov = coverage.rows.set_index("receiver")
    assert cov["sessions_all_reported"].unique().tolist() == [4]
    assert (cov.loc["Coazze", "sessions"], cov.loc["Genova", "sessions"]) == (2, 4)
    assert grid.loc["coazze"].sum() == 2 and grid.loc["genova"].sum() == 4
    assert grid.loc["genova", utc(2026, 7, 2, 12)] == 1  # after T, as id 2

    assert recent.set_index("receiver").loc["Genova", "last_seen"] == T + timedelta(hours=2)
    assert recent.set_index("receiver").loc["Coazze", "last_seen"] == T - timedelta(minutes=30)
    # One drift fit per station across its renumbering: offsets 3 (as id 3) then 2 (as id 2).
    fit = drift.summary.set_index("receiver").loc["Genova"]
    assert (fit["fit_samples"], fit["websdr_ids"]) == (4, "3, 2")
    assert fit["drift_hz_per_hour"] < 0


def test_reports_name_the_seeds_stations_before_the_cut_over_and_heimdalls_after(db, reader_database_url):
    """Id 3 was Torino in the seed's era and is Genova since Heimdall numbers by name: a measurement
    keeps the name of its time, whichever side of the cut-over it is."""
    load_measurements(
        db,
        [
            measurement("seed-era", 3, CUT_OVER - timedelta(hours=1), 33.0),
            measurement("by-name", 3, CUT_OVER + timedelta(hours=1), 44.0),
        ],
    )
    with connect(reader_database_url) as reader:
        performance = build_report(reader, "receiver_performance", CUT_OVER + timedelta(hours=2), 4).rows
    named = performance[performance["measurement_count"] > 0].set_index("receiver")
    assert sorted(named.index) == ["Genova", "Torino"]
    # Each station's ids over the window: its seed-era one, then its name-ordered one.
    assert (named.loc["Torino", "snr_avg_db"], named.loc["Torino", "websdr_ids"]) == (33.0, "3, 7")
    assert (named.loc["Genova", "snr_avg_db"], named.loc["Genova", "websdr_ids"]) == (44.0, "6, 3")


def test_the_check_expects_the_receivers_active_that_day(deactivated_at_t):
    db, _ = deactivated_at_t
    # The ledger as the loader leaves it, one upload per measurement at its own time.
    db.execute(
        "INSERT INTO ingest_ledger (object_key, etag, size_bytes, last_modified, status, task_id, websdr_id, timestamp_utc) "
        "SELECT 'sessions/' || task_id || '/websdr_' || websdr_id || '_metadata.json', 'e', 1, "
        "timestamp_utc + interval '1 minute', "
        "'loaded', task_id, websdr_id, timestamp_utc FROM measurements"
    )

    def counted(start, end):
        return {(c.name, c.websdr_ids): c.measurements for c in receiver_counts(db, start, end)}

    # Before T (the morning of the change day): seven stations, Coazze is 2.
    before = counted(T - timedelta(hours=12), T)
    assert before == {(name, str(i)): 2 for i, name in enumerate(BY_NAME, start=1)}
    # After T: six; id 2's measurements are Genova's; Coazze is not expected, nobody is 'websdr 7'.
    after = counted(T, T + timedelta(hours=12))
    assert after == {(name, str(i)): 2 for i, name in AFTER_T.items()}
    # The change day: every station active at some moment of it, with all its ids of the day.
    day = counted(utc(2026, 7, 2), utc(2026, 7, 3))
    assert day == {
        ("Aquila di Giaveno", "1"): 4,
        ("Coazze", "2"): 2,
        ("Genova", "3, 2"): 4,
        ("Milano - Baggio", "4, 3"): 4,
        ("Montanaro", "5, 4"): 4,
        ("Passo del Giovi", "6, 5"): 4,
        ("Torino", "7, 6"): 4,
    }
    assert unknown_receiver_ids(db, utc(2026, 7, 2), utc(2026, 7, 3)) == {}

    # Heimdall still sending id 7 after T (a station it has and the list does not): counted for no
    # station, and named as an id no station had then.
    load_measurements(db, [measurement("late-seven", 7, T + timedelta(hours=5), 70.0)])
    db.execute(
        "INSERT INTO ingest_ledger (object_key, etag, size_bytes, last_modified, status, task_id, websdr_id, timestamp_utc) "
        "VALUES ('sessions/late-seven/websdr_7_metadata.json', 'e', 1, %s, 'loaded', 'late-seven', 7, %s)",
        (T + timedelta(hours=5, minutes=1), T + timedelta(hours=5)),
    )
    assert counted(T, T + timedelta(hours=12)) == after
    assert unknown_receiver_ids(db, T, T + timedelta(hours=12)) == {7: 1}


# --- hostile files ([security] #5, #6): each a one-line refusal naming the file, never a traceback ---

BILLION_LAUGHS = (
    "a: &a [x, x, x, x, x, x, x, x, x]\n"
    + "".join(
        f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, "
        f"*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
        for i in range(8)
    )
    + "stations: *i\n"
)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("laughs.yaml", BILLION_LAUGHS, r"not valid YAML: aliases \(\*name\) are not allowed"),
        ("deep.yaml", "stations: " + "[" * 20_000 + "]" * 20_000 + "\n", r"not valid YAML: .*nested"),
        ("twice.yaml", None, r"not valid YAML: field 'latitude' given twice in one mapping"),
        ("nul.yaml", None, r"station 1 \(.*\): name holds a NUL or a lone surrogate"),
        ("surrogate.yaml", None, r"station 1 \(Aquila \\ud800\): name holds a NUL or a lone surrogate"),
        ("timeout.yaml", None, r"station 1 \(Aquila di Giaveno\): timeout_seconds must be from 1 to 3600, got 2147483648"),
        ("field.csv", "name,url\n" + "x" * 200_000 + ",http://a/\n", r"line \d+: not valid CSV: field larger than field limit"),
        ("many.csv", None, r"more than 1,000 stations"),
        ("huge.yaml", "stations: []\n" + "#" * (1024 * 1024 + 1), r"over the 1,048,576-byte limit"),
        ("longname.yaml", None, r"name has 5,000 characters, over 200"),
    ],
)
def test_a_hostile_station_file_is_refused_in_one_line(tmp_path, capsys, name, content, message):
    shipped = SHIPPED.read_text(encoding="utf-8")
    if content is None:
        content = {
            "twice.yaml": lambda: shipped.replace("    latitude: 45.234\n", "    latitude: 45.234\n    latitude: 1.0\n", 1),
            "nul.yaml": lambda: shipped.replace("name: Aquila di Giaveno", 'name: "Aquila\\0di Giaveno"', 1),
            "surrogate.yaml": lambda: shipped.replace("name: Aquila di Giaveno", 'name: "Aquila \\ud800"', 1),
            "timeout.yaml": lambda: shipped.replace("timeout_seconds: 30", "timeout_seconds: 2147483648", 3),
            "many.csv": lambda: (
                HEIMDALL_CSV.splitlines()[0]
                + "\n"
                + "".join(f"{n},Station {n},http://s{n}/,Here,45,7,144-146,true,30,3\n" for n in range(1, 1002))
            ),
            "longname.yaml": lambda: shipped.replace("name: Aquila di Giaveno", "name: " + "A" * 5_000, 1),
        }[name]()
    path = tmp_path / name
    path.write_text(content, encoding="utf-8", errors="surrogatepass")
    with pytest.raises(StationFileError, match=message) as raised:
        load_station_file(path)
    assert str(raised.value).startswith(f"{path}: ") and "\n" not in str(raised.value)
    assert stations.main(["--database-url", "postgresql://nobody@127.0.0.1:1/none", "sync", str(path), "--dry-run"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"heimdall-stations: {path}: ") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "when", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59Z", "1999-12-31T23:59:59Z"]
)
def test_an_implausible_effective_time_is_refused_and_writes_nothing(stations_restored, tmp_path, capsys, when):
    """Before: accepted and written, after which show, log and every sync crashed or were refused."""
    before = table_state(stations_restored)
    try:
        code = stations.main(
            ["--database-url", stations_restored, "sync", str(coazze_deactivated(tmp_path)), "--effective-at", when]
        )
    except SystemExit as exit_:  # argparse: its usage line and the error line
        code = exit_.code
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]  # argparse prints its usage first
    assert code != 0 and "Traceback" not in err and ("outside" in last and "effective" in last)
    assert table_state(stations_restored) == before
    assert stations.main(["--database-url", stations_restored, "log"]) == 0
