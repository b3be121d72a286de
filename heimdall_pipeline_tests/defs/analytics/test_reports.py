"""The report assets, the reports schedule, and the retention / restore jobs, run through Dagster."""

from __future__ import annotations

import base64
import io
import re
import urllib.request
from datetime import date

import pandas as pd
from dagster import AssetCheckKey, AssetCheckSeverity, AssetKey, materialize

from heimdall_pipeline.analytics.aggregates import refresh_hourly
from heimdall_pipeline.core.db import connect
from heimdall_pipeline.defs.analytics.reports import (
    ANALYTICS_ASSETS,
    ANALYTICS_JOBS,
    ANALYTICS_SCHEDULES,
    REPORTS_GROUP,
    TIMESCALEDB_HEALTH_CHECK,
    reports_job,
    reports_schedule,
    timescaledb_health,
)
from heimdall_pipeline.defs.lifecycle.retention import LIFECYCLE_JOBS, LIFECYCLE_SCHEDULES, restore_job, retention_job
from heimdall_pipeline.ingest.loader import load_measurements
from heimdall_pipeline.lifecycle.retention import archive_day, archive_key, archive_record, day_rows, read_archive, verify_archive
from heimdall_pipeline_tests.analytics.test_reports import END, assert_real_png, hand_built_rows
from heimdall_pipeline_tests.defs.conftest import QUIET, check_evaluations, materialization_metadata
from heimdall_pipeline_tests.measurement_rows import realistic_day

REPORT_KEYS = ["snr_trends", "frequency_drift", "receiver_performance", "coverage", "recent_measurements"]


def test_exports():
    assert sorted(a.key.to_user_string() for a in ANALYTICS_ASSETS) == sorted([*REPORT_KEYS, "timescaledb_health"])
    assert {j.name for j in [*ANALYTICS_JOBS, *LIFECYCLE_JOBS]} == {"reports_job", "retention_job", "restore_job"}
    assert {s.name for s in [*ANALYTICS_SCHEDULES, *LIFECYCLE_SCHEDULES]} == {"reports_schedule", "retention_schedule"}
    for report in ANALYTICS_ASSETS:
        deps = {key for dep_keys in report.asset_deps.values() for key in dep_keys}
        assert AssetKey("measurements") in deps
    assert reports_schedule.job.name == "reports_job"


def report_config(hours: int) -> dict:
    ops = {name: {"config": {"window_hours": hours, "end": END.isoformat()}} for name in REPORT_KEYS}
    return {**QUIET, "ops": ops}


def test_report_assets_write_metadata_and_s3(resources, s3, bucket, clean_database_url):
    with connect(clean_database_url, autocommit=False) as conn:
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
        if name in ("snr_trends", "receiver_performance", "recent_measurements"):
            # The default: recomputed SNR where iq_metrics has one (none here), said in the metadata.
            assert metadata["snr source"] == "recomputed"
            assert metadata["snr recomputed rows"] == 0 and "Heimdall's stored snr_db for the other" in metadata["snr shown"]
        else:
            assert "snr source" not in metadata
    (performance,) = materialization_metadata(result, "receiver_performance")
    assert "| Aquila di Giaveno" in performance["table"] and "100.00" in performance["table"]


def test_retention_then_restore_jobs(resources, s3, bucket, clean_database_url, archiver_database_url, edition):
    old, recent = date(2025, 1, 2), date(2025, 2, 14)
    with connect(archiver_database_url, autocommit=True) as conn:
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
    # The compression state as measured after the drop, never assumed from the policy.
    assert metadata["timescaledb_edition"] == edition
    expected_start = {"apache": "no compression", "timescale": "compression policy"}[edition]
    assert metadata["compression"].startswith(expected_start)
    with connect(clean_database_url, autocommit=False) as conn:
        compressed, total = chunk_counts(conn)
    assert (metadata["chunks compressed"], metadata["chunks uncompressed"]) == (compressed, total - compressed)
    assert f"{compressed} compressed" in metadata["compression"] or f"{compressed} of {total}" in metadata["compression"]
    assert "| 2025-01-02 |" in metadata["days"]
    with connect(clean_database_url, autocommit=True) as conn:
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
    with connect(clean_database_url, autocommit=False) as conn:
        assert day_rows(conn, old) == before
    assert archive_key(old) in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]


def chunk_counts(conn) -> tuple[int, int]:
    return conn.execute(
        "SELECT count(*) FILTER (WHERE is_compressed), count(*) FROM timescaledb_information.chunks "
        "WHERE hypertable_name = 'measurements'"
    ).fetchone()


def test_timescaledb_health_hangs_in_the_reports_group_with_a_warn_check():
    assert timescaledb_health.group_names_by_key[AssetKey("timescaledb_health")] == REPORTS_GROUP
    assert AssetKey("measurements") in {key for keys in timescaledb_health.asset_deps.values() for key in keys}
    (spec,) = timescaledb_health.check_specs
    assert spec.key == AssetCheckKey(AssetKey("timescaledb_health"), TIMESCALEDB_HEALTH_CHECK)
    assert not spec.blocking  # a job or chunk problem warns; it never stops the reports
    # Refreshed hourly with the reports.
    assert reports_schedule.job is reports_job
    assert AssetKey("timescaledb_health") in reports_job.selection.resolve(ANALYTICS_ASSETS)


def test_timescaledb_health_reports_what_the_edition_must_show(resources, clean_database_url, edition):
    with connect(clean_database_url, autocommit=True) as conn:
        load_measurements(conn, realistic_day(date(2025, 1, 2), sessions=50))
        load_measurements(conn, realistic_day(date.today(), sessions=50))
        compressed, total = chunk_counts(conn)
        failed_jobs = conn.execute(
            "SELECT s.job_id FROM timescaledb_information.job_stats s JOIN timescaledb_information.jobs j USING (job_id) "
            "WHERE s.last_run_status = 'Failed' AND j.proc_name <> 'policy_telemetry'"
        ).fetchall()

    result = materialize([timescaledb_health], resources=resources, run_config=QUIET)
    assert result.success  # a WARN never fails the materialization
    (metadata,) = materialization_metadata(result, "timescaledb_health")
    (evaluation,) = check_evaluations(result).values()
    assert evaluation.check_name == TIMESCALEDB_HEALTH_CHECK and evaluation.severity == AssetCheckSeverity.WARN
    assert (metadata["chunks"], metadata["chunks compressed"]) == (total, compressed)
    assert metadata["chunks uncompressed"] == total - compressed
    assert metadata["timescaledb_edition"] == edition
    assert metadata["jobs"].startswith("| job |") or metadata["jobs"].startswith("_no TimescaleDB")
    if edition == "apache":
        assert evaluation.passed
        assert evaluation.description.startswith("Apache edition: no compression and no policies on measurements")
        assert metadata["watched jobs"] == 0 and metadata["compression layout"] == "none"
        assert metadata["bytes of uncompressed chunks"] > 0 and metadata["bytes after compression (compressed chunks)"] == 0
        return
    # Community: the 2025 day is past the 7-day horizon; it is compressed, or the check says it is not.
    # A background job that failed (issue 9: SQLSTATE 24000 'cannot drop portal') must be reported.
    assert metadata["compression layout"] == "segmentby websdr_id; orderby timestamp_utc DESC"
    late = metadata["chunks past the compression horizon uncompressed"]
    assert evaluation.passed == (late == 0 and failed_jobs == [])
    if late:
        assert "uncompressed" in evaluation.description
    for (job_id,) in failed_jobs:
        assert f"job {job_id} (" in evaluation.description and "failed its last run" in evaluation.description
