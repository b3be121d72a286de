"""`make demo` writes its run to the persistent instance, so `make dev` / `make serve` show it."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, DagsterRunStatus

pytestmark = pytest.mark.integration

# `make demo` runs scripts/demo.py, a script beside the package (it drives the Dagster layer).
_SPEC = importlib.util.spec_from_file_location("demo", Path(__file__).resolve().parents[2] / "scripts" / "demo.py")
demo = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(demo)


def test_the_demo_run_and_its_materializations_are_in_the_instance(
    dagster_home, clean_database_url, reader_database_url, s3_endpoint_url, bucket, monkeypatch, capsys
):
    monkeypatch.setenv("HEIMDALL_DATABASE_URL", clean_database_url)
    monkeypatch.setenv("HEIMDALL_READER_DATABASE_URL", reader_database_url)  # the comparison report reads as it
    monkeypatch.setenv("HEIMDALL_S3_ENDPOINT_URL", s3_endpoint_url)
    monkeypatch.setenv("HEIMDALL_S3_BUCKET", bucket)
    monkeypatch.setattr(demo, "DEMO_SESSIONS", 3)  # the demo's day, smaller

    assert demo.main() == 0
    today = datetime.now(UTC).date().isoformat()

    # What `make dev` reads: a fresh handle on the same instance, as another process opens it.
    with DagsterInstance.get() as instance:
        runs = instance.get_runs()
        assert [run.status for run in runs] == [DagsterRunStatus.SUCCESS]
        out = capsys.readouterr().out
        assert runs[0].run_id[:8] in out
        for asset in ("minio_metadata", "measurements", "measurements_hourly", "iq_metrics", "heimdall_vs_recomputed_metrics"):
            event = instance.get_latest_materialization_event(AssetKey(asset))
            assert event is not None, asset
            assert event.run_id == runs[0].run_id
            assert event.dagster_event.partition == today
        iq = instance.get_latest_materialization_event(AssetKey("iq_metrics")).asset_materialization.metadata
        # Every recording of the demo's measurements computed (the zoo's rejected objects have no row).
        assert iq["computed"].value == iq["dagster/row_count"].value > 0
        assert iq["rejected"].value == 0  # a headline figure: shown even at zero
        assert "missing" not in iq and "failed" not in iq  # zero counters are left out
        assert iq["plot"].value.startswith("![iq_metrics](data:image/png;base64,")
        comparison = instance.get_latest_materialization_event(
            AssetKey("heimdall_vs_recomputed_metrics")
        ).asset_materialization.metadata
        assert comparison["compared"].value == iq["computed"].value
        assert comparison["plot"].value.startswith("![heimdall_vs_recomputed_metrics](data:image/png;base64,")
    assert "heimdall_vs_recomputed_metrics:" in out and "iq_metrics:" in out
    assert type(instance.run_storage).__name__ == "PostgresRunStorage"


def test_the_demo_without_an_instance_stops_with_one_line(monkeypatch):
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    with pytest.raises(SystemExit) as stopped:
        demo.main()
    assert str(stopped.value).startswith("demo: configuration error: DAGSTER_HOME is not set")
