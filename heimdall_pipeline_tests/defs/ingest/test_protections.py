"""Pins on the defaults and behaviours that protect the data: a regression here would pass every
other test. Schedules (cron, timezone, default status, job), the sensor (interval, job, status),
and two concurrent runs of one partition through Dagster."""

from __future__ import annotations

import threading
from collections import Counter

from dagster import DefaultScheduleStatus, DefaultSensorStatus

from heimdall_pipeline.definitions import defs
from heimdall_pipeline.defs.ingest.sensors import SENSOR_INTERVAL_SECONDS
from heimdall_pipeline.devtools.sample_data import generate_day
from heimdall_pipeline_tests.defs.conftest import materialization_metadata, noon, put_uploaded_at, run_chain
from heimdall_pipeline_tests.defs.ingest.test_assets import DAY

# Every schedule, pinned. retention_schedule deletes rows: it must stay STOPPED until a user turns
# it on; the ingest and reports schedules run by default.
EXPECTED_SCHEDULES = {
    "daily_ingest_schedule": ("15 0 * * *", "UTC", DefaultScheduleStatus.RUNNING, "ingest_job"),
    "reports_schedule": ("30 * * * *", "UTC", DefaultScheduleStatus.RUNNING, "reports_job"),
    "retention_schedule": ("30 2 * * *", "UTC", DefaultScheduleStatus.STOPPED, "retention_job"),
    # The data's freshness checks only (no upload, a silent receiver), hourly: they feed the alerts.
    "freshness_schedule": ("10 * * * *", "UTC", DefaultScheduleStatus.RUNNING, "freshness_checks_job"),
}


def test_every_schedule_has_its_pinned_cron_timezone_default_status_and_job():
    schedules = {s.name: defs.resolve_schedule_def(s.name) for s in defs.schedules}
    assert set(schedules) == set(EXPECTED_SCHEDULES)  # a new schedule must be pinned here too
    for name, (cron, timezone, status, job) in EXPECTED_SCHEDULES.items():
        schedule = schedules[name]
        assert (schedule.cron_schedule, schedule.execution_timezone, schedule.default_status, schedule.job_name) == (
            cron,
            timezone,
            status,
            job,
        ), name


def test_the_sensor_runs_every_30_seconds_by_default_and_launches_the_ingest_job():
    sensors = {s.name: defs.resolve_sensor_def(s.name) for s in defs.sensors}
    assert set(sensors) == {"new_metadata_objects_sensor", "hourly_automation_sensor", "iq_automation_sensor", "alerts_sensor"}
    alerts = sensors["alerts_sensor"]  # failed runs and checks to the operators' channels: on by default
    assert (alerts.default_status, alerts.minimum_interval_seconds) == (DefaultSensorStatus.RUNNING, 30)
    # iq_metrics and its comparison follow a materialized day of measurements: on by default, every minute.
    iq = sensors["iq_automation_sensor"]
    assert (iq.default_status, iq.minimum_interval_seconds) == (DefaultSensorStatus.RUNNING, 60)
    sensor = sensors["new_metadata_objects_sensor"]
    # Upload → row is at most one interval plus a run: 30 s (docs/operating.md, "The sensor").
    assert SENSOR_INTERVAL_SECONDS == 30
    assert sensor.minimum_interval_seconds == 30
    assert sensor.default_status == DefaultSensorStatus.RUNNING
    assert sensor.job_name == "ingest_job"


def test_a_retried_ingest_run_runs_the_whole_chain_again():
    # Its last step (no_object_unaccounted) is what fails when objects stay pending: retrying only
    # that step would load nothing.
    assert defs.resolve_job_def("ingest_job").tags["dagster/retry_strategy"] == "ALL_STEPS"


def test_two_concurrent_runs_of_one_partition_are_serialized_without_duplicates(resources, s3, bucket, db):
    objects = generate_day(DAY, sessions=40, seed=21)
    put_uploaded_at(s3, bucket, objects, noon(DAY), spacing=0.5)
    start = threading.Barrier(2)
    results: list = [None, None]

    def run(index: int) -> None:
        start.wait()
        results[index] = run_chain(resources, DAY.isoformat())

    threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)

    assert all(result is not None and result.success for result in results)
    loads = [materialization_metadata(result, "measurements")[0] for result in results]
    # The per-day lock serializes the loads: one run loaded every object, the other found none pending.
    assert sorted((m["objects"], m["inserted"]) for m in loads) == [(0, 0), (len(objects), len(objects))]
    assert all((m["already present"], m["conflicts"]) == (0, 0) for m in loads)
    assert db.execute("SELECT count(*), count(DISTINCT (task_id, websdr_id, timestamp_utc)) FROM measurements").fetchone() == (
        len(objects),
        len(objects),
    )
    assert Counter(dict(db.execute("SELECT status, count(*) FROM ingest_ledger GROUP BY status").fetchall())) == Counter(
        {"loaded": len(objects)}
    )
    assert db.execute("SELECT sum(measurement_count) FROM measurements_hourly").fetchone()[0] == len(objects)
