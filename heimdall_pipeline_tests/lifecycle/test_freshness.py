"""Freshness of the data against the real database: a stopped upload stream and a silent receiver
fail their rule; a new deployment, a just-activated station and a heard one do not."""

from __future__ import annotations

import pytest

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.core.settings import ConfigError
from heimdall_pipeline.ingest.checks import Severity
from heimdall_pipeline.lifecycle.freshness import Thresholds, receiver_states, receivers_heard, uploads_arriving

pytestmark = pytest.mark.integration


def upload(conn, key: str, hours_ago: float) -> None:
    conn.execute(
        "INSERT INTO ingest_ledger (object_key, etag, size_bytes, last_modified, status) "
        "VALUES (%s, 'e', 100, now() - make_interval(secs => %s), 'pending')",
        (key, hours_ago * 3600),
    )


def measure(conn, websdr_id: int, hours_ago: float, task: str = "task") -> None:
    conn.execute(
        "INSERT INTO measurements (task_id, websdr_id, frequency_mhz, sample_rate_khz, samples_count, timestamp_utc) "
        "VALUES (%s, %s, 145.5, 12.5, 1000, now() - make_interval(secs => %s))",
        (f"{task}-{websdr_id}-{hours_ago}", websdr_id, hours_ago * 3600),
    )


def active_stations(conn) -> dict[int, tuple[str, str]]:
    return {id_: (key, name) for id_, key, name in conn.execute("SELECT id, station_key, name FROM websdr_stations")}


def test_thresholds_default_to_six_hours_and_name_a_bad_variable():
    assert Thresholds.from_env({}) == Thresholds(6, 6)
    assert Thresholds.from_env({"HEIMDALL_FRESHNESS_UPLOAD_HOURS": "2", "HEIMDALL_FRESHNESS_RECEIVER_HOURS": "24"}) == Thresholds(
        2, 24
    )
    with pytest.raises(ConfigError, match="HEIMDALL_FRESHNESS_RECEIVER_HOURS"):
        Thresholds.from_env({"HEIMDALL_FRESHNESS_RECEIVER_HOURS": "0"})


def test_a_stopped_upload_stream_fails_and_an_empty_ledger_does_not(clean_database_url):
    with connect(clean_database_url) as conn:
        empty = uploads_arriving(conn, hours=6)
        assert empty.passed and "no upload recorded" in empty.description

        upload(conn, "sessions/a/websdr_1_metadata.json", hours_ago=30)
        upload(conn, "sessions/b/websdr_1_metadata.json", hours_ago=7)
        stale = uploads_arriving(conn, hours=6)
        assert not stale.passed and stale.severity == Severity.ERROR
        assert stale.description.startswith("no upload for 7.0 h (more than 6 h): the newest object, sessions/b/")
        assert stale.metadata["alert_key"] == "sessions/b/websdr_1_metadata.json"
        assert uploads_arriving(conn, hours=8).passed

        upload(conn, "sessions/c/websdr_1_metadata.json", hours_ago=0.5)
        fresh = uploads_arriving(conn, hours=6)
        assert fresh.passed and "alert_key" not in fresh.metadata
        assert fresh.description.startswith("newest upload 0.5 h ago")


def test_a_silent_receiver_fails_while_the_others_are_heard(clean_database_url):
    with connect(clean_database_url) as conn:
        nothing = receivers_heard(conn, hours=6)
        assert nothing.passed and "no measurement stored yet" in nothing.description

        stations = active_stations(conn)
        silent_id = max(stations)
        for websdr_id in stations:
            measure(conn, websdr_id, hours_ago=10 if websdr_id == silent_id else 0.5)
        outcome = receivers_heard(conn, hours=6)

    silent_key, silent_name = stations[silent_id]
    assert not outcome.passed and outcome.severity == Severity.WARN
    assert outcome.description.startswith(f"silent for more than 6 h: {silent_name} (id {silent_id}, last heard ")
    assert outcome.metadata["silent receivers"] == silent_name
    assert outcome.metadata["alert_key"] == silent_key
    assert outcome.metadata["active receivers"] == len(stations)
    assert f"| {silent_id} | {silent_name} |" in outcome.metadata["receivers"]


def _new_version_since(owner, websdr_id: int, hours_ago: float, *, new_id: int, was_active: bool) -> None:
    """The station `websdr_id` names now gets a new version from `hours_ago` on, with `new_id`;
    before that it keeps its version, made inactive when `was_active` is False."""
    changes = "" if was_active else ", active = FALSE, websdr_id = NULL"
    [(version,)] = owner.execute(
        f"UPDATE websdr_station_versions SET valid_during = tstzrange(lower(valid_during), "
        f"now() - make_interval(secs => %(secs)s), '[)'){changes} "
        "WHERE websdr_id = %(id)s AND valid_during @> now() RETURNING version_id",
        {"id": websdr_id, "secs": hours_ago * 3600},
    ).fetchall()
    owner.execute(
        "INSERT INTO websdr_station_versions (station_key, websdr_id, name, url, location, latitude, longitude, bands, "
        "active, timeout_seconds, retry_count, valid_during) "
        "SELECT station_key, %(new_id)s, name, url, location, latitude, longitude, bands, TRUE, timeout_seconds, "
        "retry_count, tstzrange(upper(valid_during), 'infinity', '[)') "
        "FROM websdr_station_versions WHERE version_id = %(version)s",
        {"new_id": new_id, "version": version},
    )


def test_a_station_is_expected_from_when_it_became_active_and_under_every_id_it_had(clean_database_url, stations_restored):
    """Never heard: silent only once it has been active, and the database has held data, for longer
    than the threshold. Renumbered: its rows under the id it had before count."""
    with connect(clean_database_url) as conn:
        stations = active_stations(conn)
    newcomer, renumbered, *others = sorted(stations, reverse=True)
    with connect(stations_restored) as owner:
        _new_version_since(owner, newcomer, 2, new_id=newcomer, was_active=False)  # active for 2 h
        _new_version_since(owner, renumbered, 1, new_id=90, was_active=True)  # id 90 for an hour
    with connect(clean_database_url) as conn:
        for websdr_id in others:
            measure(conn, websdr_id, hours_ago=30)  # the data began 30 h ago
            measure(conn, websdr_id, hours_ago=0.5)
        measure(conn, renumbered, hours_ago=1.5)  # under its old id
        states = {s.station_key: s for s in receiver_states(conn)}
        outcome, strict = receivers_heard(conn, hours=6), receivers_heard(conn, hours=1)

    new_state, renumbered_state = states[stations[newcomer][0]], states[stations[renumbered][0]]
    assert new_state.last_heard is None and new_state.active_since is not None
    assert 1.9 * 3600 < new_state.silent_for.total_seconds() < 2.1 * 3600
    assert renumbered_state.websdr_id == 90 and renumbered_state.active_since is None  # active all along
    assert 1.4 * 3600 < renumbered_state.silent_for.total_seconds() < 1.6 * 3600
    assert outcome.passed, outcome.description
    assert not strict.passed
    assert set(strict.metadata["alert_key"].split(",")) == {stations[newcomer][0], stations[renumbered][0]}
