"""Which measurement days a run refreshes (days_to_aggregate, refresh_hourly_days), and which it leaves."""

from __future__ import annotations

from datetime import date

from heimdall_pipeline.analytics.aggregates import days_to_aggregate, refresh_hourly_days
from heimdall_pipeline.core.db import connect
from heimdall_pipeline.ingest.loader import load_measurements
from heimdall_pipeline.ingest.uploads import upload_day_bounds
from heimdall_pipeline_tests.measurement_rows import measurement, utc

DAY = date(2025, 3, 10)
NEXT_DAY = date(2025, 3, 11)


def record_dropped(owner_database_url: str, day: date) -> None:
    """What retention records once it archived and dropped a day (the owner may write it whoever
    retention runs as)."""
    with connect(owner_database_url, autocommit=True) as owner:
        owner.execute(
            "INSERT INTO measurement_archives (day, object_key, row_count, checksum, dropped_at) VALUES (%s, 'k', 5, 'x', now())",
            (day,),
        )


def test_refreshing_days_leaves_a_dropped_day_as_it_is_and_refreshes_the_others(db, owner_database_url):
    load_measurements(db, [measurement("a", 1, utc(2025, 3, 10, 9), 10.0), measurement("b", 1, utc(2025, 3, 11, 9), 10.0)])
    record_dropped(owner_database_url, DAY)

    refreshed = refresh_hourly_days(db, [NEXT_DAY, DAY, NEXT_DAY])

    assert refreshed.groups == {NEXT_DAY: 1}
    assert refreshed.archived == [DAY]
    assert db.execute("SELECT count(*) FROM measurements_hourly WHERE bucket < %s", (utc(2025, 3, 11),)).fetchone()[0] == 0


def test_an_upload_window_aggregates_its_own_days_even_without_uploads(db):
    assert days_to_aggregate(db, *upload_day_bounds(DAY)) == [DAY]
