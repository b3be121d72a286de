"""measurements_hourly equals a from-scratch recomputation, and the numbers are the right ones."""

from __future__ import annotations

import math
from datetime import date

import pytest

from heimdall_pipeline.analytics.aggregates import DayArchivedError, day_bounds, hourly_mismatches, refresh_hourly
from heimdall_pipeline.core.db import connect
from heimdall_pipeline.ingest.loader import load_measurements
from heimdall_pipeline_tests.measurement_rows import measurement, realistic_day, utc

DAY = date(2025, 3, 10)
EVERYTHING = (utc(2000, 1, 1), utc(2100, 1, 1))


def hourly_rows(db):
    return db.execute(
        "SELECT bucket, websdr_id, frequency_mhz, measurement_count, snr_avg_db, snr_min_db, snr_max_db,"
        " snr_p50_db, snr_p95_db, power_avg_dbm, offset_avg_hz, offset_min_hz, offset_max_hz, offset_stddev_hz"
        " FROM measurements_hourly ORDER BY 1, 2, 3"
    ).fetchall()


def test_hand_computed_group(db):
    rows = [
        measurement("a", 1, utc(2025, 3, 10, 9, 5), 10.0, 1.0, power_dbm=-60.0),
        measurement("b", 1, utc(2025, 3, 10, 9, 20), 12.0, 3.0, power_dbm=-58.0),
        measurement("c", 1, utc(2025, 3, 10, 9, 40), 14.0, 5.0, power_dbm=-56.0),
        measurement("d", 1, utc(2025, 3, 10, 9, 59, 59, 999_999), 20.0, 7.0, power_dbm=-50.0),
        # Same hour, other frequency: its own group.
        measurement("a", 2, utc(2025, 3, 10, 9, 5), 8.0, None, frequency_mhz=432.1, power_dbm=None),
        # 10:00:00 exactly opens the next hour.
        measurement("e", 1, utc(2025, 3, 10, 10), 30.0, -2.0),
        # The next day is not this day's business.
        measurement("f", 1, utc(2025, 3, 11, 0), 99.0, 0.0),
    ]
    load_measurements(db, rows)
    assert refresh_hourly(db, DAY) == 3

    nine, nine_70cm, ten = hourly_rows(db)
    assert nine[:4] == (utc(2025, 3, 10, 9), 1, 145.5, 4)
    assert nine[4:7] == (14.0, 10.0, 20.0)  # avg, min, max
    assert nine[7] == pytest.approx(13.0)  # p50: halfway between 12 and 14
    assert nine[8] == pytest.approx(19.1)  # p95: 14 + 0.85 * (20 - 14)
    assert nine[9] == -56.0
    assert nine[10:13] == (4.0, 1.0, 7.0)
    assert nine[13] == pytest.approx(math.sqrt(20 / 3))  # sample stddev of 1, 3, 5, 7
    assert nine_70cm[1:4] == (2, 432.1, 1)
    assert nine_70cm[4:9] == (8.0, 8.0, 8.0, 8.0, 8.0)
    assert nine_70cm[9:] == (None, None, None, None, None)  # no offset, no power; stddev of one is NULL
    assert ten[:5] == (utc(2025, 3, 10, 10), 1, 145.5, 1, 30.0)
    assert hourly_mismatches(db, *day_bounds(DAY)) == []


def test_table_equals_recomputation_including_late_data(db):
    days = [date(2025, 3, 10), date(2025, 3, 11)]
    for day in days:
        load_measurements(db, realistic_day(day, sessions=120))
        refresh_hourly(db, day)
    assert hourly_mismatches(db, *EVERYTHING) == []
    groups = db.execute("SELECT count(*), sum(measurement_count) FROM measurements_hourly").fetchone()
    assert groups[1] == db.execute("SELECT count(*) FROM measurements").fetchone()[0]
    assert groups[0] > 100

    # Late objects for the first day arrive (e.g. a re-upload a day later): stale until refreshed.
    day_two_before = db.execute(
        "SELECT * FROM measurements_hourly WHERE bucket >= %s ORDER BY 1, 2, 3", (utc(2025, 3, 11),)
    ).fetchall()
    load_measurements(db, realistic_day(days[0], sessions=30, seed=1))
    assert hourly_mismatches(db, *day_bounds(days[0]))
    refresh_hourly(db, days[0])
    assert hourly_mismatches(db, *EVERYTHING) == []
    assert (
        db.execute("SELECT * FROM measurements_hourly WHERE bucket >= %s ORDER BY 1, 2, 3", (utc(2025, 3, 11),)).fetchall()
        == day_two_before
    )


def test_refresh_is_idempotent_and_removes_vanished_groups(db):
    load_measurements(db, realistic_day(DAY, sessions=40))
    refresh_hourly(db, DAY)
    first = hourly_rows(db)
    refresh_hourly(db, DAY)
    assert hourly_rows(db) == first

    db.execute("DELETE FROM measurements WHERE websdr_id = 3")
    refresh_hourly(db, DAY)
    assert db.execute("SELECT count(*) FROM measurements_hourly WHERE websdr_id = 3").fetchone()[0] == 0
    assert hourly_mismatches(db, *EVERYTHING) == []


def test_refuses_a_day_whose_rows_were_archived_and_dropped(db, archiver_database_url):
    load_measurements(db, [measurement("a", 1, utc(2025, 3, 10, 9), 10.0)])
    refresh_hourly(db, DAY)
    with connect(archiver_database_url, autocommit=True) as archiver:  # only retention's role records archives
        archiver.execute(
            "INSERT INTO measurement_archives (day, object_key, row_count, checksum, dropped_at) VALUES (%s, 'k', 5, 'x', now())",
            (DAY,),
        )
    before = hourly_rows(db)
    with pytest.raises(DayArchivedError, match="restore_job"):
        refresh_hourly(db, DAY)
    assert hourly_rows(db) == before


def test_the_comparison_tolerates_summation_order_only(db):
    load_measurements(db, realistic_day(DAY, sessions=400))
    refresh_hourly(db, DAY)
    some_group = (
        "(SELECT bucket, websdr_id, frequency_mhz FROM measurements_hourly WHERE measurement_count > 2 ORDER BY 1, 2, 3 LIMIT 1)"
    )
    where = f"WHERE (bucket, websdr_id, frequency_mhz) = {some_group}"

    assert db.execute(f"UPDATE measurements_hourly SET snr_avg_db = snr_avg_db * (1 + 1e-14) {where}").rowcount == 1
    assert hourly_mismatches(db, *day_bounds(DAY)) == []  # the last bits of a float sum

    db.execute(f"UPDATE measurements_hourly SET snr_avg_db = snr_avg_db + 1e-6 {where}")
    assert len(hourly_mismatches(db, *day_bounds(DAY))) == 1
    refresh_hourly(db, DAY)
    db.execute(f"UPDATE measurements_hourly SET offset_stddev_hz = NULL {where}")
    assert len(hourly_mismatches(db, *day_bounds(DAY))) == 1
    refresh_hourly(db, DAY)
    db.execute(f"UPDATE measurements_hourly SET snr_p95_db = snr_p95_db * (1 + 1e-14) {where}")
    assert len(hourly_mismatches(db, *day_bounds(DAY))) == 1  # percentiles are exact
