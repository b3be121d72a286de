"""What the check on measurements_hourly concludes for an upload day (no Dagster)."""

from __future__ import annotations

from datetime import date

from heimdall_pipeline.analytics.aggregates import refresh_hourly
from heimdall_pipeline.analytics.checks import hourly_matches_rows
from heimdall_pipeline.ingest.checks import Severity
from heimdall_pipeline.ingest.loader import load_measurements
from heimdall_pipeline.ingest.uploads import upload_day_bounds
from heimdall_pipeline_tests.analytics.test_aggregates_by_day import record_dropped
from heimdall_pipeline_tests.measurement_rows import measurement, utc

DAY = date(2025, 3, 10)


def test_aggregates_equal_to_the_rows_pass_and_stale_ones_are_an_error(db):
    load_measurements(db, [measurement("a", 1, utc(2025, 3, 10, 9), 10.0)])
    refresh_hourly(db, DAY)
    outcome = hourly_matches_rows(db, *upload_day_bounds(DAY))
    assert outcome.passed
    assert outcome.metadata["days compared"] == "2025-03-10"

    load_measurements(db, [measurement("b", 1, utc(2025, 3, 10, 9, 30), 12.0)])  # not refreshed yet
    outcome = hourly_matches_rows(db, *upload_day_bounds(DAY))
    assert (outcome.passed, outcome.severity, outcome.metadata["mismatched groups"]) == (False, Severity.ERROR, 1)
    assert "| 2025-03-10T09:00:00+00:00 | 1 | 145.5 | 2 | 1 |" in outcome.metadata["mismatches (first)"]


def test_a_day_retention_dropped_is_not_compared(db, owner_database_url):
    load_measurements(db, [measurement("a", 1, utc(2025, 3, 10, 9), 10.0)])  # no aggregates: would mismatch
    record_dropped(owner_database_url, DAY)
    outcome = hourly_matches_rows(db, *upload_day_bounds(DAY))
    assert outcome.passed and outcome.metadata["days compared"] == ""
