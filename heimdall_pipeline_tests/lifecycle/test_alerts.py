"""The alert library without Dagster: settings, which events alert, the text, the burst summary,
the masking, and delivery to a real local webhook and SMTP server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from heimdall_pipeline.core.settings import ConfigError
from heimdall_pipeline.lifecycle.alerts import (
    RETRY_DECISION_GRACE,
    AlertSettings,
    AlertState,
    CheckEvaluation,
    Incident,
    RunFailure,
    advance,
    compose,
    deliver,
    error_line,
)
from heimdall_pipeline_tests.alert_receivers import SmtpReceiver, WebhookReceiver

NOW = datetime(2026, 6, 2, 12, 0, tzinfo=UTC)
DB_PASSWORD = "Kq7-database-pw"
DB_URL = f"postgresql://heimdall_pipeline:{DB_PASSWORD}@db.internal:5432/heimdall"
UI = "http://dagster.example.org"


def failure(storage_id: int, *, will_retry: bool | None = False, failed_at: datetime = NOW, **changes) -> RunFailure:
    values = dict(
        storage_id=storage_id,
        run_id=f"run-{storage_id}",
        job="ingest_job",
        partition="2026-06-01",
        error="DatabaseConnectionError: cannot connect",
        failed_at=failed_at,
        will_retry=will_retry,
    )
    return RunFailure(**{**values, **changes})


def evaluation(storage_id: int, *, passed: bool = False, severity: str = "WARN", alert_key=None, partition="2026-06-01"):
    return CheckEvaluation(
        storage_id=storage_id,
        run_id=f"run-{storage_id}",
        job="ingest_job",
        asset="measurements",
        check="all_receivers_reported",
        partition=partition,
        passed=passed,
        severity=severity,
        description="missing: Torino\nsecond line",
        alert_key=alert_key,
    )


def settings(**changes) -> AlertSettings:
    return AlertSettings.build(**{"webhook_url": "http://hooks.example.org/x", "ui_url": UI, "secret_urls": [DB_URL], **changes})


# --- settings ---------------------------------------------------------------------------------


def test_alerts_are_off_until_a_channel_is_set():
    off = AlertSettings.from_env({})
    assert not off.enabled and off.channels == []
    both = AlertSettings.from_env(
        {
            "HEIMDALL_ALERT_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/secret",
            "HEIMDALL_ALERT_SMTP_HOST": "smtp.example.org",
            "HEIMDALL_ALERT_SMTP_TO": "ops@example.org, oncall@example.org",
            "HEIMDALL_DAGSTER_URL": "http://127.0.0.1:3000",
            "HEIMDALL_DATABASE_URL": DB_URL,
        }
    )
    assert both.channels == ["webhook", "email"]
    assert both.smtp.port == 587 and both.smtp.security == "starttls"  # the submission port, STARTTLS
    assert both.smtp.recipients == ("ops@example.org", "oncall@example.org")
    assert both.ui_url == "http://127.0.0.1:3000"  # HEIMDALL_UI_URL when set, else make serve's address
    assert both.secret_urls == (DB_URL,)
    assert (
        AlertSettings.from_env(
            {"HEIMDALL_ALERT_SMTP_HOST": "h", "HEIMDALL_ALERT_SMTP_TO": "a@b", "HEIMDALL_ALERT_SMTP_SECURITY": "ssl"}
        ).smtp.port
        == 465
    )


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"HEIMDALL_ALERT_WEBHOOK_URL": "hooks.slack.com/services/T0/B0/secret"}, "HEIMDALL_ALERT_WEBHOOK_URL"),
        ({"HEIMDALL_ALERT_SMTP_HOST": "smtp.example.org"}, "HEIMDALL_ALERT_SMTP_TO"),
        (
            {"HEIMDALL_ALERT_SMTP_HOST": "h", "HEIMDALL_ALERT_SMTP_TO": "a@b", "HEIMDALL_ALERT_SMTP_PORT": "smtp"},
            "HEIMDALL_ALERT_SMTP_PORT",
        ),
        (
            {"HEIMDALL_ALERT_SMTP_HOST": "h", "HEIMDALL_ALERT_SMTP_TO": "a@b", "HEIMDALL_ALERT_SMTP_SECURITY": "tls"},
            "HEIMDALL_ALERT_SMTP_SECURITY",
        ),
        ({"HEIMDALL_ALERT_SMTP_HOST": "h", "HEIMDALL_ALERT_SMTP_TO": "ops"}, "HEIMDALL_ALERT_SMTP_TO"),
        (
            {"HEIMDALL_ALERT_SMTP_HOST": "h", "HEIMDALL_ALERT_SMTP_TO": "a@b", "HEIMDALL_ALERT_SMTP_PASSWORD": "pw"},
            "HEIMDALL_ALERT_SMTP_PASSWORD",
        ),
        ({"HEIMDALL_ALERT_BURST_LIMIT": "0"}, "HEIMDALL_ALERT_BURST_LIMIT"),
        ({"HEIMDALL_UI_URL": "dagster:3000"}, "HEIMDALL_UI_URL"),
    ],
)
def test_a_bad_setting_is_one_line_naming_the_variable_and_never_the_webhook(env, names):
    with pytest.raises(ConfigError) as raised:
        AlertSettings.from_env(env)
    message = str(raised.value)
    assert names in message and "\n" not in message
    assert "secret" not in message  # a webhook URL is a credential: never shown


# --- what alerts ------------------------------------------------------------------------------


def test_a_failed_run_alerts_once_and_a_retried_one_only_at_the_end_of_its_chain():
    runs = [
        failure(10),  # final
        failure(11, will_retry=True),  # its retry will speak for it
        failure(12, will_retry=False, attempt=3, run_id="retry-2"),  # the chain's last: "after 3 attempts"
    ]
    incidents, state = advance(AlertState(), runs, [], NOW, retries_enabled=True)
    assert [(i.run_id, i.attempts) for i in incidents] == [("run-10", 1), ("retry-2", 3)]
    assert state.runs_after == 12
    # The same events again (a second tick, a restart from the stored cursor): nothing new.
    again, _ = advance(AlertState.from_json(state.to_json()), [], [], NOW, retries_enabled=True)
    assert again == []


def test_a_run_without_its_retry_decision_yet_waits_for_the_next_tick():
    undecided = failure(20, will_retry=None, failed_at=NOW - timedelta(seconds=5))
    incidents, state = advance(AlertState(runs_after=19), [undecided, failure(21)], [], NOW, retries_enabled=True)
    assert incidents == [] and state.runs_after == 19  # stopped before it, 21 included
    # Past the grace, or with run retries off, the tag never comes: it is final.
    late = failure(20, will_retry=None, failed_at=NOW - RETRY_DECISION_GRACE - timedelta(seconds=1))
    assert len(advance(state, [late], [], NOW, retries_enabled=True)[0]) == 1
    assert len(advance(state, [undecided], [], NOW, retries_enabled=False)[0]) == 1


def test_a_check_alerts_when_it_starts_failing_and_again_only_when_what_fails_changes():
    state = AlertState()
    steps = [
        (evaluation(1), 1),  # starts failing
        (evaluation(2), 0),  # still failing the same way
        (evaluation(3, partition="2026-06-02"), 1),  # another day's check is another check
        (evaluation(4, severity="ERROR"), 1),  # worse
        (evaluation(5, passed=True, severity="ERROR"), 0),  # recovered: re-armed
        (evaluation(6, severity="ERROR"), 1),
        (evaluation(7, severity="ERROR", alert_key="torino"), 1),  # another receiver silent
        (evaluation(8, severity="ERROR", alert_key="torino"), 0),
    ]
    for step, (record, alerts) in enumerate(steps):
        incidents, state = advance(state, [], [record], NOW, retries_enabled=True)
        assert len(incidents) == alerts, f"step {step}"
        assert state.checks_after == record.storage_id
    [incident] = advance(AlertState(), [], [evaluation(9)], NOW, retries_enabled=True)[0]
    assert incident.check == "measurements/all_receivers_reported" and incident.error == "missing: Torino"


def test_a_cursor_this_version_cannot_read_is_no_cursor():
    assert AlertState.from_json(None) is None
    assert AlertState.from_json('{"record_id": 5}') is None  # e.g. a run_failure_sensor's cursor
    state = AlertState(3, 4, {"a/b": "WARN:"})
    assert AlertState.from_json(state.to_json()) == state


def test_the_error_line_is_the_first_line_of_the_error_that_happened():
    chain = [
        (
            "DagsterExecutionStepExecutionError",
            'dagster._core.errors.DagsterExecutionStepExecutionError: Error occurred while executing op "measurements":\n',
        ),
        ("DatabaseConnectionError", "heimdall_pipeline.core.db.DatabaseConnectionError: cannot connect to x: refused\nmore\n"),
    ]
    assert error_line(chain) == "DatabaseConnectionError: cannot connect to x: refused"
    assert (
        error_line([("Failure", "dagster._core.definitions.events.Failure: 3 objects pending\n")]) == "Failure: 3 objects pending"
    )
    assert error_line([]) == "no error recorded"
    assert len(error_line([("E", "x" * 5000)])) == 400


# --- the text ---------------------------------------------------------------------------------


def test_an_alert_names_job_partition_check_error_and_run_link_and_masks_every_password():
    run = Incident(
        "abc123",
        "ingest_job",
        "2026-06-01",
        f"DatabaseConnectionError: cannot connect to {DB_URL}: password {DB_PASSWORD} refused",
    )
    check = Incident(
        "def456", "freshness_checks_job", None, "no upload for 7.0 h", check="minio_metadata/uploads_arriving", severity="ERROR"
    )
    smtp_password = "smtp-pw-123"
    configured = settings(smtp_host="smtp.example.org", smtp_to="ops@example.org", smtp_user="u", smtp_password=smtp_password)
    first, second = compose([run, check], configured)
    for message in (first, second):
        assert DB_PASSWORD not in message.text and DB_PASSWORD not in str(message.webhook_payload())
    assert "job ingest_job" in first.text and "partition 2026-06-01" in first.text
    assert "cannot connect to postgresql://heimdall_pipeline:***@db.internal:5432/heimdall" in first.text
    assert f"{UI}/runs/abc123" in first.text and first.subject.startswith("[heimdall-pipeline] Run failed")
    assert "Check failed (ERROR): minio_metadata/uploads_arriving" in second.text and "no upload for 7.0 h" in second.text
    [masked] = compose([Incident("x", "j", None, f"login {smtp_password} failed")], configured)
    assert smtp_password not in masked.text and "login *** failed" in masked.text
    payload = first.webhook_payload()
    assert payload["text"] == first.text  # Slack-compatible: text for any receiver, blocks for Slack
    assert f"<{UI}/runs/abc123|open the run>" in payload["blocks"][1]["text"]["text"]
    # Without a UI address the run id is still there.
    [bare] = compose([run], settings(ui_url=None))
    assert "run abc123 (set HEIMDALL_UI_URL for a link)" in bare.text


def test_a_burst_is_one_summary():
    incidents = [Incident(f"run-{n}", "ingest_job", f"2026-05-{n:02d}", "OSError: disk full") for n in range(1, 13)]
    incidents.append(
        Incident("c", "ingest_job", "2026-05-01", "missing: Torino", check="measurements/all_receivers_reported", severity="WARN")
    )
    assert len(compose(incidents[:5], settings(burst_limit=5))) == 5
    [summary] = compose(incidents, settings(burst_limit=5))
    assert summary.subject == "[heimdall-pipeline] 13 alerts at once: 12 failed run(s), 1 failed or warning check(s)"
    assert "partition 2026-05-01" in summary.text and f"{UI}/runs/run-1" in summary.text
    assert "... and 3 more." in summary.text and "status%3AFAILURE" in summary.text


# --- delivery, for real -----------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_delivery_to_a_local_webhook_and_smtp_server_with_login():
    with WebhookReceiver() as hook, SmtpReceiver(user="alerts", password="smtp-secret-9") as mail:
        configured = AlertSettings.from_env({"HEIMDALL_ALERT_WEBHOOK_URL": hook.url, "HEIMDALL_UI_URL": UI, **mail.env()})
        messages = compose([Incident("abc", "ingest_job", "2026-06-01", "OSError: disk full")], configured)
        delivery = deliver(messages, configured)
    assert delivery.sent == 2 and delivery.errors == []
    [post] = hook.posts
    assert "OSError: disk full" in post["text"] and post["blocks"][0]["type"] == "header"
    [email] = mail.messages
    assert email["Subject"] == messages[0].subject and email["To"] == "ops@example.org"
    assert f"{UI}/runs/abc" in email.get_content()
    assert mail.logins == [("alerts", "smtp-secret-9")]


def test_a_channel_that_fails_is_reported_masked_and_the_other_still_gets_the_alert():
    with WebhookReceiver() as hook, SmtpReceiver() as mail:
        hook.status = 500
        configured = AlertSettings.from_env({"HEIMDALL_ALERT_WEBHOOK_URL": hook.url, **mail.env()})
        delivery = deliver(compose([Incident("abc", "j", None, "boom")], configured), configured)
        assert delivery.sent == 1 and len(mail.messages) == 1
    [error] = delivery.errors
    assert error.startswith("webhook (127.0.0.1): HTTPError") and "token" not in error  # the URL's path is never shown
    unreachable = AlertSettings.from_env(
        {
            "HEIMDALL_ALERT_SMTP_HOST": "127.0.0.1",
            "HEIMDALL_ALERT_SMTP_PORT": "1",
            "HEIMDALL_ALERT_SMTP_TO": "a@b",
            "HEIMDALL_ALERT_SMTP_SECURITY": "none",
        }
    )
    nothing = deliver(compose([Incident("abc", "j", None, "boom")], unreachable), unreachable)
    assert nothing.sent == 0 and nothing.errors[0].startswith("email (127.0.0.1:1): ConnectionRefusedError")


@pytest.mark.parametrize(
    ("security", "expected"),
    [
        ("starttls", ["SMTP", "starttls", "login", "send"]),
        ("ssl", ["SMTP_SSL", "login", "send"]),
        ("none", ["SMTP", "login", "send"]),
    ],
)
def test_smtp_security_modes_take_the_right_steps(monkeypatch, security, expected):
    """STARTTLS and SSL need a certificate the client trusts; the order of the steps is checked here,
    a real server (no TLS) by the test above and by test_serve_alerts."""
    import smtplib

    steps = []

    class FakeSMTP:
        def __init__(self, host, port, timeout=None, context=None):
            steps.append("SMTP_SSL" if context is not None else "SMTP")

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def starttls(self, context=None):
            steps.append("starttls")

        def login(self, user, password):
            steps.append("login")

        def send_message(self, message):
            steps.append("send")

    monkeypatch.setattr(smtplib, "SMTP", FakeSMTP)
    monkeypatch.setattr(smtplib, "SMTP_SSL", FakeSMTP)
    configured = AlertSettings.from_env(
        {
            "HEIMDALL_ALERT_SMTP_HOST": "smtp.example.org",
            "HEIMDALL_ALERT_SMTP_TO": "a@b",
            "HEIMDALL_ALERT_SMTP_SECURITY": security,
            "HEIMDALL_ALERT_SMTP_USER": "u",
            "HEIMDALL_ALERT_SMTP_PASSWORD": "p",
        }
    )
    assert deliver(compose([Incident("abc", "j", None, "boom")], configured), configured).sent == 1
    assert steps == expected
