"""The freshness checks in Dagster: freshness_checks_job runs the two checks and nothing else; a
stopped upload stream and a silent receiver show as failed checks, and alerts_sensor reports them."""

from __future__ import annotations

import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance, DefaultScheduleStatus, DefaultSensorStatus, Definitions

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.defs.ingest.assets import INGEST_ASSETS
from heimdall_pipeline.defs.lifecycle.freshness import FRESHNESS_CHECKS, freshness_checks_job, freshness_schedule
from heimdall_pipeline.defs.resources import AlertChannels, FreshnessThresholds
from heimdall_pipeline_tests.alert_receivers import Sensor, WebhookReceiver
from heimdall_pipeline_tests.lifecycle.test_freshness import active_stations, measure, upload

pytestmark = pytest.mark.integration
UPLOADS = AssetCheckKey(AssetKey("minio_metadata"), "uploads_arriving")
RECEIVERS = AssetCheckKey(AssetKey("measurements"), "receivers_heard_recently")


def run_freshness_job(resources, instance):
    defs = Definitions(
        assets=INGEST_ASSETS,
        asset_checks=FRESHNESS_CHECKS,
        jobs=[freshness_checks_job],
        resources={**resources, "freshness": FreshnessThresholds(upload_hours=6, receiver_hours=6)},
    )
    return defs.resolve_job_def("freshness_checks_job").execute_in_process(instance=instance)


def test_a_stopped_stream_and_a_silent_receiver_are_failed_checks_and_alerts(resources):
    with connect(resources["timescale"].database_url) as conn:
        upload(conn, "sessions/x/websdr_1_metadata.json", hours_ago=9)
        stations = active_stations(conn)
        silent = max(stations)
        for websdr_id in stations:
            measure(conn, websdr_id, hours_ago=9 if websdr_id == silent else 0.2)

    instance = DagsterInstance.ephemeral()
    with WebhookReceiver() as hook:
        sensor = Sensor(instance, AlertChannels(webhook_url=hook.url, ui_url="http://ui.example.org"))
        sensor.tick()
        result = run_freshness_job(resources, instance)
        sensor.tick()
        run_freshness_job(resources, instance)  # still stale: said already
        sensor.tick()

    assert result.success and result.get_asset_materialization_events() == []  # checks only
    evaluations = {e.asset_check_key: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == {UPLOADS, RECEIVERS}
    assert not evaluations[UPLOADS].passed and evaluations[UPLOADS].severity.value == "ERROR"
    assert not evaluations[RECEIVERS].passed and evaluations[RECEIVERS].severity.value == "WARN"
    assert stations[silent][1] in evaluations[RECEIVERS].description

    texts = sorted(post["text"] for post in hook.posts)
    assert len(texts) == 2
    assert texts[0].startswith("Check failed (ERROR): minio_metadata/uploads_arriving, partition -, job freshness_checks_job")
    assert "no upload for 9.0 h (more than 6 h)" in texts[0]
    assert texts[1].startswith(
        "Check warning (WARN): measurements/receivers_heard_recently, partition -, job freshness_checks_job"
    )
    assert f"http://ui.example.org/runs/{result.run_id}" in texts[1]


def test_the_freshness_checks_run_hourly_on_their_own_and_never_in_a_days_run():
    from heimdall_pipeline.definitions import defs

    assert freshness_schedule.cron_schedule == "10 * * * *"
    assert freshness_schedule.default_status == DefaultScheduleStatus.RUNNING
    assert defs.resolve_schedule_def("freshness_schedule").job_name == "freshness_checks_job"
    graph = defs.resolve_asset_graph()
    assert {UPLOADS, RECEIVERS} <= set(graph.asset_check_keys)
    freshness_job = defs.resolve_job_def("freshness_checks_job")
    assert freshness_job.asset_layer.asset_graph.asset_check_keys == {UPLOADS, RECEIVERS}
    assert not freshness_job.asset_layer.executable_asset_keys
    ingest_checks = defs.resolve_job_def("ingest_job").asset_layer.asset_graph.asset_check_keys
    assert ingest_checks and not ingest_checks & {UPLOADS, RECEIVERS}
    assert defs.resolve_sensor_def("alerts_sensor").default_status == DefaultSensorStatus.RUNNING
