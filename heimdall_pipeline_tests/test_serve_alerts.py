"""Alerts for real under `make serve`: scripts/serve.sh runs the code server, webserver and daemon on
an instance of their own, with HEIMDALL_ALERT_* pointing at a webhook and an SMTP server in this
process. A day's run whose database is unreachable fails, is retried twice by run_retries, and the
operator gets exactly one alert per channel, for the chain, with no password in it.
"""

from __future__ import annotations

import subprocess
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.scheduler.instigation import InstigatorType
from dagster._core.storage.tags import PARTITION_NAME_TAG, ROOT_RUN_ID_TAG, WILL_RETRY_TAG
from dagster_graphql import DagsterGraphQLClient

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.schema.migrations import migrate
from heimdall_pipeline_tests.alert_receivers import SmtpReceiver, WebhookReceiver, free_port
from heimdall_pipeline_tests.conftest import _with_database
from heimdall_pipeline_tests.test_serve import _create_database, _wait, serve_env

pytestmark = [
    pytest.mark.integration,
    pytest.mark.xdist_group("serve_alerts"),
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS"),
]

REPO = Path(__file__).resolve().parent.parent
SERVE = str(REPO / "scripts" / "serve.sh")
SMTP_PASSWORD = "smtp-relay-pw-4411"
DB_PASSWORD = "db-pw-never-shown-8812"
SENSOR_INTERVAL = 30  # alerts_sensor's


@pytest.fixture(scope="module")
def served(admin_database_url, s3_endpoint_url, tmp_path_factory):
    """make serve on its own instance, databases and state, alerting to the receivers it yields."""
    from heimdall_pipeline.core.object_store import make_s3_client

    work = tmp_path_factory.mktemp("serve_alerts")
    heimdall_db = _create_database(admin_database_url, "heimdall_alerts")
    dagster_db = _create_database(admin_database_url, "dagster_alerts")
    migrate(_with_database(admin_database_url, heimdall_db))
    bucket = f"heimdall-alerts-{uuid.uuid4().hex[:8]}"
    make_s3_client(s3_endpoint_url, "us-east-1", "heimdall", "heimdall-secret").create_bucket(Bucket=bucket)
    home = work / "dagster_home"
    port = free_port()
    with WebhookReceiver() as hook, SmtpReceiver(user="alerts", password=SMTP_PASSWORD) as mail:
        env = serve_env(
            work,
            admin_database_url,
            heimdall_db,
            dagster_db,
            s3_endpoint_url,
            bucket,
            HEIMDALL_WEBSERVER_PORT=str(port),
            HEIMDALL_UI_URL=f"http://127.0.0.1:{port}",
            HEIMDALL_ALERT_WEBHOOK_URL=hook.url,
            **mail.env(),
        )
        instance = None
        try:
            done = subprocess.run([SERVE, "up"], env=env, capture_output=True, text=True, timeout=400)
            assert done.returncode == 0, f"serve.sh up failed:\n{done.stdout}\n{done.stderr}"
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("DAGSTER_POSTGRES_URL", env["DAGSTER_POSTGRES_URL"])
                instance = DagsterInstance.from_config(str(home))
            yield instance, port, hook, mail
        finally:
            subprocess.run([SERVE, "down"], env=env, capture_output=True, text=True, timeout=120)
            if instance:
                instance.dispose()
            with connect(admin_database_url, autocommit=True) as admin:
                for name in (heimdall_db, dagster_db):
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _sensor_started(instance: DagsterInstance, name: str) -> bool:
    states = instance.all_instigator_state(instigator_type=InstigatorType.SENSOR)
    return any(s.instigator_name == name and s.instigator_data and s.instigator_data.cursor for s in states)


def test_a_failed_run_delivers_exactly_one_alert_to_the_webhook_and_one_email(served, role_urls):
    """The day's run, retried twice, fails three times: one alert per channel, for the last run."""
    instance, port, hook, mail = served
    # The sensor's first tick sets its cursor at the newest events: failures before it are history.
    _wait(lambda: _sensor_started(instance, "alerts_sensor"), 120, "alerts_sensor's first tick", interval=1)

    # The day's database, unreachable: the pipeline role's URL with a password, on a closed port.
    user = urlsplit(role_urls.pipeline).username
    unreachable = f"postgresql://{user}:{DB_PASSWORD}@127.0.0.1:{free_port()}/heimdall"
    day = "2026-06-01"
    first_run = DagsterGraphQLClient("127.0.0.1", port_number=port, timeout=60).submit_job_execution(
        "ingest_job",
        repository_location_name="heimdall_pipeline",
        run_config={"resources": {"timescale": {"config": {"database_url": unreachable}}}},
        tags={PARTITION_NAME_TAG: day},
    )

    # run_retries launches it twice more (dagster.yaml: max_retries 2, on asset failure too).
    def chain_done():
        runs = instance.get_runs(filters=RunsFilter(tags={ROOT_RUN_ID_TAG: first_run})) + [instance.get_run_by_id(first_run)]
        final = [r for r in runs if r.status == DagsterRunStatus.FAILURE and r.tags.get(WILL_RETRY_TAG) == "false"]
        return final and (runs, final[0])

    runs, final = _wait(chain_done, 300, "the run and its retries to fail", interval=1)
    assert len(runs) == 3 and all(r.status == DagsterRunStatus.FAILURE for r in runs)
    _wait(lambda: hook.posts and mail.messages, 3 * SENSOR_INTERVAL, "the alert", interval=1)
    time.sleep(SENSOR_INTERVAL + 10)  # at least one more tick: nothing sent twice

    assert len(hook.posts) == 1 and len(mail.messages) == 1
    [post], [email] = hook.posts, mail.messages
    link = f"http://127.0.0.1:{port}/runs/{final.run_id}"
    for text in (post["text"], email.get_content()):
        assert f"Run failed after 3 attempts: job ingest_job, partition {day}" in text
        assert "Error: DatabaseConnectionError: cannot connect to postgresql://heimdall_pipeline:***@" in text
        assert link in text
    assert email["Subject"] == f"[heimdall-pipeline] Run failed after 3 attempts: job ingest_job, partition {day}"
    assert mail.logins == [("alerts", SMTP_PASSWORD)]
    everything = str(post) + email.as_string()
    assert DB_PASSWORD not in everything and SMTP_PASSWORD not in everything
