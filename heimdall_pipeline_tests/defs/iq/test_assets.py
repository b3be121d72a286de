"""iq_metrics, the comparison report and its check, run through Dagster on a day of real uploads."""

from __future__ import annotations

import base64
import json
import re
from collections import defaultdict
from datetime import UTC, datetime

import numpy as np
from dagster import AssetKey, materialize

from heimdall_pipeline import save_measurements_to_timescaledb
from heimdall_pipeline.defs.ingest.assets import measurements
from heimdall_pipeline.defs.iq.assets import (
    AGREEMENT_CHECK,
    IQ_ASSET_CHECKS,
    IQ_ASSETS,
    heimdall_vs_recomputed_metrics,
    iq_automation_sensor,
    iq_job,
    iq_metrics,
)
from heimdall_pipeline.defs.partitions import daily_partitions
from heimdall_pipeline_tests.analytics.test_reports import assert_real_png
from heimdall_pipeline_tests.defs.conftest import QUIET, check_evaluations, materialization_metadata, run_chain
from heimdall_pipeline_tests.iq.test_recordings import hostile_recording
from heimdall_pipeline_tests.iq_days import TEST_SAMPLES, npy_bytes, upload_day_with_recordings


def today() -> str:
    return datetime.now(UTC).date().isoformat()


def run_iq(resources, partition: str):
    return materialize([*IQ_ASSETS, *IQ_ASSET_CHECKS], partition_key=partition, resources=resources, run_config=QUIET)


def plot_png(markdown: str) -> bytes:
    match = re.fullmatch(r"!\[[^\]]*\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)", markdown)
    assert match, markdown[:80]
    return base64.b64decode(match[1])


def test_wiring():
    assert iq_metrics.partitions_def == measurements.partitions_def == daily_partitions
    assert iq_metrics.backfill_policy == measurements.backfill_policy
    deps = {key for keys in iq_metrics.asset_deps.values() for key in keys}
    assert deps == {AssetKey("measurements")}
    report_deps = {key for keys in heimdall_vs_recomputed_metrics.asset_deps.values() for key in keys}
    assert report_deps == {AssetKey("iq_metrics")}
    assert {check.name for spec in IQ_ASSET_CHECKS for check in spec.check_specs} == {AGREEMENT_CHECK}
    assert iq_job.name == "iq_job" and iq_automation_sensor.name == "iq_automation_sensor"


def test_a_day_that_agrees_computes_every_recording_and_the_check_passes(resources, s3, bucket):
    recordings = upload_day_with_recordings(s3, bucket, sessions=3, agree=True)
    partition = today()
    assert run_chain(resources, partition).success

    result = run_iq(resources, partition)

    assert result.success
    (iq,) = materialization_metadata(result, "iq_metrics")
    assert (iq["dagster/row_count"], iq["computed"], iq["rejected"], iq["missing"], iq["pending"]) == (
        len(recordings),
        len(recordings),
        0,
        0,
        0,
    )
    assert iq["flag: samples_count_mismatch"] == len(recordings)  # 4,096 samples, the metadata says 125,000
    assert iq["peak recordings in flight"] <= 4
    assert_real_png(plot_png(iq["plot"]))
    (report,) = materialization_metadata(result, "heimdall_vs_recomputed_metrics")
    assert (report["dagster/row_count"], report["compared"], report["disagreeing"]) == (len(recordings), len(recordings), 0)
    assert report["per receiver"].startswith("|") and "snr_correlation" in report["per receiver"]
    assert_real_png(plot_png(report["plot"]))
    png_key = report["png"].split("/", 3)[3]
    assert_real_png(s3.get_object(Bucket=bucket, Key=png_key)["Body"].read())
    csv = s3.get_object(Bucket=bucket, Key=report["csv"].split("/", 3)[3])["Body"].read().decode()
    assert csv.count("\n") == len(recordings) + 1
    check = check_evaluations(result)[AGREEMENT_CHECK]
    assert check.passed
    assert check.metadata["compared"].value == len(recordings)


def test_rows_heimdalls_worker_stored_first_have_their_recordings_computed(resources, s3, bucket, clean_database_url, db):
    """Beside Heimdall the worker usually stores a row before the pipeline lists its object (ledger
    `present`): the recording is the row's, whoever inserted it."""
    recordings = upload_day_with_recordings(s3, bucket, sessions=2, agree=True)
    by_task: dict[str, list[dict]] = defaultdict(list)
    for recording in recordings:
        metadata_key = f"sessions/{recording.task_id}/websdr_{recording.websdr_id}_metadata.json"
        document = json.loads(s3.get_object(Bucket=bucket, Key=metadata_key)["Body"].read())
        by_task[recording.task_id].append({**document, "iq_data_path": f"s3://{bucket}/{recording.key}"})
    for task_id, dicts in by_task.items():
        assert save_measurements_to_timescaledb(task_id, dicts, database_url=clean_database_url)["inserted"] == len(dicts)
    partition = today()
    assert run_chain(resources, partition).success
    assert db.execute("SELECT DISTINCT status FROM ingest_ledger").fetchall() == [("present",)]

    result = run_iq(resources, partition)

    (iq,) = materialization_metadata(result, "iq_metrics")
    assert (iq["dagster/row_count"], iq["computed"], iq["pending"]) == (len(recordings), len(recordings), 0)
    (report,) = materialization_metadata(result, "heimdall_vs_recomputed_metrics")
    assert (report["compared"], report["disagreeing"]) == (len(recordings), 0)


def test_a_day_that_disagrees_warns_with_counts(resources, s3, bucket):
    recordings = upload_day_with_recordings(s3, bucket, sessions=2, agree=False)  # 20 dB weaker, 400 Hz away
    partition = today()
    assert run_chain(resources, partition).success

    result = run_iq(resources, partition)

    assert result.success  # a WARN never fails the run
    check = check_evaluations(result)[AGREEMENT_CHECK]
    assert not check.passed
    assert check.severity.value == "WARN"
    metadata = {name: value.value for name, value in check.metadata.items()}
    assert (metadata["compared"], metadata["disagreeing"], metadata["disagreeing by offset"]) == (
        len(recordings),
        len(recordings),
        len(recordings),
    )
    (report,) = materialization_metadata(result, "heimdall_vs_recomputed_metrics")
    assert report["disagreeing"] == len(recordings)


def test_bad_recordings_are_listed_with_reasons_and_a_re_run_reads_nothing(resources, s3, bucket, tmp_path):
    recordings = upload_day_with_recordings(s3, bucket, sessions=1)
    target = tmp_path / "unpickled"
    s3.put_object(Bucket=bucket, Key=recordings[0].key, Body=hostile_recording(target))
    s3.put_object(Bucket=bucket, Key=recordings[1].key, Body=npy_bytes(np.ones((2, TEST_SAMPLES), dtype=np.complex64)))
    s3.delete_object(Bucket=bucket, Key=recordings[2].key)
    partition = today()
    assert run_chain(resources, partition).success

    first = run_iq(resources, partition)
    again = run_iq(resources, partition)

    assert not target.exists()
    (iq,) = materialization_metadata(first, "iq_metrics")
    assert (iq["computed"], iq["rejected"], iq["missing"]) == (len(recordings) - 3, 2, 1)
    for code in ("object_array", "not_1d", "missing_object"):
        assert f"| {code} | 1 |" in iq["reasons"]
    (repeat,) = materialization_metadata(again, "iq_metrics")
    # The missing recording is looked for again; nothing computed or rejected is read again.
    assert (repeat["read in this run"], repeat["already current"]) == (1, len(recordings) - 1)
    assert repeat["dagster/row_count"] == iq["dagster/row_count"] == len(recordings)
