from dagster import AssetCheckKey, AssetKey, DefaultSensorStatus, Definitions

from heimdall_pipeline.definitions import defs
from heimdall_pipeline.defs.ingest.assets import INGEST_BACKFILL_POLICY, measurements


def test_definitions_load_and_validate():
    Definitions.validate_loadable(defs)
    job = defs.resolve_job_def("ingest_job")
    assert {key.to_user_string() for key in job.asset_layer.executable_asset_keys} >= {
        "minio_metadata",
        "measurements",
        "measurements_hourly",
    }
    assert defs.resolve_sensor_def("new_metadata_objects_sensor").default_status == DefaultSensorStatus.RUNNING
    assert defs.resolve_schedule_def("daily_ingest_schedule").job_name == "ingest_job"


def test_hourly_follows_a_hand_materialized_measurements_because_its_automation_sensor_runs():
    sensor = defs.resolve_sensor_def("hourly_automation_sensor")
    assert sensor.default_status == DefaultSensorStatus.RUNNING
    targeted = sensor.asset_selection.resolve(defs.resolve_asset_graph())
    assert targeted == {AssetKey("measurements_hourly")}
    assert (
        defs.resolve_assets_def("measurements_hourly").automation_conditions_by_key[AssetKey("measurements_hourly")] is not None
    )


def test_loading_the_code_location_prints_no_beta_or_preview_warnings():
    import subprocess
    import sys

    loaded = subprocess.run(
        [sys.executable, "-W", "always", "-c", "import heimdall_pipeline.definitions"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "BetaWarning" not in loaded.stderr and "PreviewWarning" not in loaded.stderr, loaded.stderr


def test_checks_are_registered_with_blocking_where_wrong_aggregates_must_stop():
    graph = defs.resolve_asset_graph()
    check_keys = graph.asset_check_keys
    expected = {
        AssetCheckKey(AssetKey("measurements"), "all_receivers_reported"),
        AssetCheckKey(AssetKey("measurements"), "snr_in_plausible_range"),
        AssetCheckKey(AssetKey("measurements"), "frequency_offset_within_band"),
        AssetCheckKey(AssetKey("measurements"), "no_conflicting_rows"),
        AssetCheckKey(AssetKey("measurements"), "no_object_unaccounted"),
        AssetCheckKey(AssetKey("measurements_hourly"), "hourly_matches_measurements"),
    }
    assert expected <= set(check_keys)
    blocking = {key.name for key in expected if graph.get_check_spec(key).blocking}
    assert blocking == {"hourly_matches_measurements"}
    # Pending objects fail the run only after the rows that loaded are aggregated.
    unaccounted = graph.get_check_spec(AssetCheckKey(AssetKey("measurements"), "no_object_unaccounted"))
    assert unaccounted.additional_deps and {d.asset_key for d in unaccounted.additional_deps} == {AssetKey("measurements_hourly")}


def test_backfills_run_ten_days_per_run():
    assert measurements.backfill_policy == INGEST_BACKFILL_POLICY
    assert INGEST_BACKFILL_POLICY.max_partitions_per_run == 10


def test_reports_read_as_the_reader_role_and_fall_back_to_the_pipeline_url(monkeypatch):
    from heimdall_pipeline.defs.analytics.reports import REPORT_ASSETS
    from heimdall_pipeline.defs.resources import resources_from_env

    for report in REPORT_ASSETS:
        assert {"reader", "s3", "buckets"} <= report.required_resource_keys
        assert "timescale" not in report.required_resource_keys
    monkeypatch.setenv("HEIMDALL_READER_DATABASE_URL", "postgresql://reader@db/heimdall")
    assert resources_from_env()["reader"].database_url.env_var_name == "HEIMDALL_READER_DATABASE_URL"
    monkeypatch.delenv("HEIMDALL_READER_DATABASE_URL")
    assert resources_from_env()["reader"].database_url.env_var_name == "HEIMDALL_DATABASE_URL"
    assert resources_from_env()["timescale"].database_url.env_var_name == "HEIMDALL_DATABASE_URL"


def test_runs_launched_from_the_ui_run_in_one_process_like_the_sensors():
    """'Materialize all' runs the implicit __ASSET_JOB: on the default executor it started a process
    per step (49 s for a day under make serve, against 4.3 s for ingest_job)."""
    from dagster import in_process_executor

    assert defs.resolve_implicit_global_asset_job_def().executor_def is in_process_executor
    assert defs.resolve_job_def("iq_job").executor_def is in_process_executor
    assert defs.resolve_job_def("reports_job").executor_def is in_process_executor


def test_the_lineage_shows_every_table_an_snr_report_reads():
    graph = defs.resolve_asset_graph()
    for report in ("snr_trends", "receiver_performance", "recent_measurements"):
        assert AssetKey("iq_metrics") in graph.get(AssetKey(report)).parent_keys
        assert AssetKey("measurements") in graph.get(AssetKey(report)).parent_keys
