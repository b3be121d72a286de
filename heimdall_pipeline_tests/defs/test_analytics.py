"""The report assets, the reports schedule, and the retention / restore jobs, run through Dagster."""

from __future__ import annotations

import base64
import io
import re
import urllib.request
from datetime import date

import pandas as pd
import psycopg
from dagster import AssetKey, materialize

from heimdall_pipeline.aggregates import refresh_hourly
from heimdall_pipeline.defs.analytics import (
    ANALYTICS_ASSETS,
    ANALYTICS_JOBS,
    ANALYTICS_SCHEDULES,
    reports_schedule,
    restore_job,
    retention_job,
)
from heimdall_pipeline.lifecycle import archive_day, archive_key, archive_record, day_rows, read_archive, verify_archive
from heimdall_pipeline.loader import load_measurements
from heimdall_pipeline_tests.defs.conftest import QUIET, materialization_metadata
from heimdall_pipeline_tests.measurement_rows import realistic_day
from heimdall_pipeline_tests.test_reports import END, assert_real_png, hand_built_rows

REPORT_KEYS = ["snr_trends", "frequency_drift", "receiver_performance", "coverage", "recent_measurements"]


def test_exports():
    assert sorted(a.key.to_user_string() for a in ANALYTICS_ASSETS) == sorted(REPORT_KEYS)
    assert {j.name for j in ANALYTICS_JOBS} == {"reports_job", "retention_job", "restore_job"}
    assert {s.name for s in ANALYTICS_SCHEDULES} == {"reports_schedule", "retention_schedule"}
    for report in ANALYTICS_ASSETS:
        deps = {key for dep_keys in report.asset_deps.values() for key in dep_keys}
        assert AssetKey("measurements") in deps
    assert reports_schedule.job.name == "reports_job"


def report_config(hours: int) -> dict:
    ops = {name: {"config": {"window_hours": hours, "end": END.isoformat()}} for name in REPORT_KEYS}
    return {**QUIET, "ops": ops}


def test_report_assets_write_metadata_and_s3(resources, s3, bucket, clean_database_url):
    with psycopg.connect(clean_database_url) as conn:
        load_measurements(conn, hand_built_rows())
        refresh_hourly(conn, date(2025, 3, 10))

    result = materialize(ANALYTICS_ASSETS, resources=resources, run_config=report_config(6))
    assert result.success
    for name in REPORT_KEYS:
        (metadata,) = materialization_metadata(result, name)
        csv_key = f"reports/{name}/2025-03-10/{name}.csv"
        png_key = f"reports/{name}/2025-03-10/{name}.png"
        assert metadata["csv"] == f"s3://{bucket}/{csv_key}"
        # The links open without credentials (presigned, 7 days), unlike the bucket itself.
        for url_name, key in (("png_url", png_key), ("csv_url", csv_key)):
            assert f"/{bucket}/{key}?" in metadata[url_name] and "X-Amz-Expires=604800" in metadata[url_name]
            with urllib.request.urlopen(metadata[url_name], timeout=10) as response:
                assert response.status == 200
                assert response.read() == s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert metadata["links expire"].endswith("UTC (presigned, 7 days)")
        csv = pd.read_csv(io.BytesIO(s3.get_object(Bucket=bucket, Key=csv_key)["Body"].read()))
        assert metadata["dagster/row_count"] == len(csv) > 0
        png = s3.get_object(Bucket=bucket, Key=png_key)["Body"].read()
        assert_real_png(png)
        embedded = re.fullmatch(rf"!\[{name}\]\(data:image/png;base64,(.+)\)", metadata["plot"]).group(1)
        assert base64.b64decode(embedded) == png
        assert metadata["table"].startswith("|") and "receiver" in metadata["table"].splitlines()[0]
    (performance,) = materialization_metadata(result, "receiver_performance")
    assert "| Aquila di Giaveno" in performance["table"] and "100.00" in performance["table"]


def test_retention_then_restore_jobs(resources, s3, bucket, clean_database_url, edition):
    old, recent = date(2025, 1, 2), date(2025, 2, 14)
    with psycopg.connect(clean_database_url, autocommit=True) as conn:
        load_measurements(conn, realistic_day(old, sessions=20))
        load_measurements(conn, realistic_day(recent, sessions=20))
        before = day_rows(conn, old)
        # A crash between archive and drop: the archive exists, the rows too.
        archive_day(conn, s3, bucket, old)
        verify_archive(conn, s3, bucket, old)

    config = {**QUIET, "ops": {"find_expired_days": {"config": {"as_of": "2025-02-15T03:00:00Z"}}}}
    result = retention_job.execute_in_process(resources=resources, run_config=config)
    assert result.success
    metadata = {
        k: v.value
        for event in result.all_events
        if event.event_type_value == "STEP_OUTPUT" and event.step_key == "archive_verify_drop"
        for k, v in event.event_specific_data.metadata.items()
    }
    assert metadata["days_retired"] == 1 and metadata["rows_dropped"] == len(before)
    assert metadata["timescaledb_edition"] == edition
    expected_start = {"apache": "no compression", "timescale": "compression policy"}[edition]
    assert metadata["compression"].startswith(expected_start)
    assert "| 2025-01-02 |" in metadata["days"]
    with psycopg.connect(clean_database_url, autocommit=True) as conn:
        assert day_rows(conn, old) == []
        assert len(day_rows(conn, recent)) > 0
        assert archive_record(conn, old).dropped_at is not None
    assert read_archive(s3, bucket, old) == before

    # Re-running finds nothing to do.
    again = retention_job.execute_in_process(resources=resources, run_config=config)
    assert again.output_for_node("archive_verify_drop") == []

    restore_config = {**QUIET, "ops": {"restore_archived_day": {"config": {"day": "2025-01-02"}}}}
    restored = restore_job.execute_in_process(resources=resources, run_config=restore_config)
    assert restored.output_for_node("restore_archived_day") == len(before)
    with psycopg.connect(clean_database_url) as conn:
        assert day_rows(conn, old) == before
    assert archive_key(old) in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
