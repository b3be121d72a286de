"""alerts_sensor on a real instance's event log: runs that failed and checks that failed, delivered
to a local webhook and SMTP server, once each, across ticks and restarts; a burst as one summary."""

from __future__ import annotations

import os

import pytest
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    DagsterInstance,
    asset,
    asset_check,
    job,
    materialize,
    op,
)

from heimdall_pipeline.defs.resources import AlertChannels
from heimdall_pipeline.lifecycle.alerts import AlertDeliveryError, AlertState
from heimdall_pipeline_tests.alert_receivers import Sensor, SmtpReceiver, WebhookReceiver

UI = "http://127.0.0.1:3000"


@op
def connect_to_the_database():
    # What a careless library might raise: the URL as configured, password and all.
    raise RuntimeError(f"cannot reach {os.environ['HEIMDALL_DATABASE_URL']}: connection refused\ndetails")


@job
def failing_job():
    connect_to_the_database()


CHECK = {"passed": False, "severity": AssetCheckSeverity.WARN}


@asset
def thing():
    return 1


@asset_check(asset=thing)
def thing_is_fine():
    return AssetCheckResult(passed=CHECK["passed"], severity=CHECK["severity"], description="thing is not fine\nat all")


@pytest.fixture
def channels():
    with WebhookReceiver() as hook, SmtpReceiver() as mail:
        yield hook, mail


def _resource(hook, mail, **changes) -> AlertChannels:
    smtp = mail.env()
    return AlertChannels(
        **{
            "webhook_url": hook.url,
            "smtp_host": "127.0.0.1",
            "smtp_port": int(smtp["HEIMDALL_ALERT_SMTP_PORT"]),
            "smtp_security": "none",
            "smtp_to": smtp["HEIMDALL_ALERT_SMTP_TO"],
            "ui_url": UI,
            **changes,
        }
    )


def _fail(instance: DagsterInstance, partition: str) -> str:
    result = failing_job.execute_in_process(instance=instance, raise_on_error=False, tags={"dagster/partition": partition})
    assert not result.success
    return result.run_id


def test_a_failed_run_alerts_once_across_ticks_and_restarts_and_never_with_a_password(channels, monkeypatch):
    hook, mail = channels
    password = "Kq7-pipeline-pw"
    monkeypatch.setenv("HEIMDALL_DATABASE_URL", f"postgresql://heimdall_pipeline:{password}@db.internal:5432/heimdall")
    instance = DagsterInstance.ephemeral()
    sensor = Sensor(instance, _resource(hook, mail))
    _fail(instance, "2026-05-30")  # before the sensor's first tick: history, not an alert
    assert "started" in sensor.tick().skip_message
    run_id = _fail(instance, "2026-06-01")

    sensor.tick()
    sensor.tick()
    restarted = Sensor(instance, _resource(hook, mail))
    restarted.cursor = sensor.cursor  # the daemon restarts with the stored cursor
    assert restarted.tick().skip_message == "nothing new failed"

    [post], [email] = hook.posts, mail.messages
    body = email.get_content()
    for text in (post["text"], str(post["blocks"]), body, email["Subject"]):
        assert password not in text
    assert "Run failed: job failing_job, partition 2026-06-01" in post["text"]
    assert "Error: RuntimeError: cannot reach postgresql://heimdall_pipeline:***@db.internal:5432/heimdall" in body
    assert "details" not in body  # the first line only
    assert f"{UI}/runs/{run_id}" in body and f"{UI}/runs/{run_id}" in post["text"]


def test_a_burst_of_failures_in_one_tick_is_one_summary(channels):
    hook, mail = channels
    instance = DagsterInstance.ephemeral()
    sensor = Sensor(instance, _resource(hook, mail, burst_limit=3))
    sensor.tick()
    run_ids = [_fail(instance, f"2026-06-{day:02d}") for day in range(1, 8)]

    assert sensor.tick().skip_message == "7 alert(s) in 1 message(s) to webhook, email"
    [post], [email] = hook.posts, mail.messages
    assert email["Subject"] == "[heimdall-pipeline] 7 alerts at once: 7 failed run(s), 0 failed or warning check(s)"
    for day, run_id in zip(range(1, 8), run_ids):
        assert f"partition 2026-06-{day:02d}" in post["text"] and f"{UI}/runs/{run_id}" in email.get_content()
    sensor.tick()
    assert len(hook.posts) == len(mail.messages) == 1


def test_a_check_alerts_when_it_starts_failing_not_while_it_stays_failed(channels):
    hook, mail = channels
    instance = DagsterInstance.ephemeral()
    sensor = Sensor(instance, _resource(hook, mail, smtp_host=""))  # webhook only
    sensor.tick()

    def evaluate(passed: bool, severity=AssetCheckSeverity.WARN):
        CHECK.update(passed=passed, severity=severity)
        materialize([thing, thing_is_fine], instance=instance)
        sensor.tick()
        return len(hook.posts)

    assert evaluate(False) == 1
    assert "Check warning (WARN): thing/thing_is_fine, partition -, job __ephemeral_asset_job__" in hook.posts[0]["text"]
    assert "Check: thing is not fine" in hook.posts[0]["text"] and "at all" not in hook.posts[0]["text"]
    assert evaluate(False) == 1  # still failing: already said
    assert evaluate(False, AssetCheckSeverity.ERROR) == 2  # worse
    assert evaluate(True) == 2
    assert evaluate(False) == 3  # failing again after it passed


def test_a_run_the_instance_retries_is_left_to_its_retry(channels):
    hook, mail = channels
    instance = DagsterInstance.ephemeral()
    sensor = Sensor(instance, _resource(hook, mail))
    sensor.tick()
    run_id = _fail(instance, "2026-06-01")
    instance.add_run_tags(run_id, {"dagster/will_retry": "true"})
    assert sensor.tick().skip_message == "nothing new failed"
    assert hook.posts == [] and mail.messages == []


def test_when_no_channel_takes_the_alert_the_cursor_stays_and_the_next_tick_sends_it(channels):
    hook, mail = channels
    instance = DagsterInstance.ephemeral()
    sensor = Sensor(instance, _resource(hook, mail, smtp_host=""))
    sensor.tick()
    before = sensor.cursor
    _fail(instance, "2026-06-01")
    hook.status = 503
    with pytest.raises(AlertDeliveryError, match=r"webhook \(127.0.0.1\): HTTPError"):
        sensor.tick()
    assert sensor.cursor == before
    hook.status = 200
    sensor.tick()
    assert len(hook.posts) == 1 and AlertState.from_json(sensor.cursor).runs_after > AlertState.from_json(before).runs_after


def test_alerts_off_sends_nothing_and_keeps_up_with_the_log(channels):
    hook, mail = channels
    instance = DagsterInstance.ephemeral()
    sensor = Sensor(instance, AlertChannels())
    assert "alerts off" in sensor.tick().skip_message
    _fail(instance, "2026-06-01")
    sensor.tick()
    sensor.alerts = _resource(hook, mail)  # turned on later: the failure before is history
    sensor.tick()
    assert hook.posts == [] and mail.messages == []
