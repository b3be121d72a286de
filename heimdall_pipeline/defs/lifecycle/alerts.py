"""`alerts_sensor`: failed runs and failed or warning asset checks, to the webhook and email of
the `alerts` resource (HEIMDALL_ALERT_*). What deserves an alert, the text, the burst summary and
the sending are heimdall_pipeline.lifecycle.alerts'; this module reads the instance's event log
after the sensor's cursor and hands the library plain records.

One sensor over both kinds of event rather than Dagster's @run_failure_sensor: that decorator
calls its function once per failed run and keeps the cursor to itself, so a tick could neither
summarise a burst nor remember which checks are already failing.
"""

from datetime import UTC, datetime

from dagster import (
    DagsterEventType,
    DagsterInstance,
    DefaultSensorStatus,
    EventRecordsFilter,
    RunsFilter,
    RunStatusChangeRecordsFilter,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)
from dagster._core.storage.tags import (  # not exported by dagster 1.13
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
    RETRY_NUMBER_TAG,
    WILL_RETRY_TAG,
)
from dagster._utils.tags import get_boolean_tag_value

from heimdall_pipeline.defs.resources import AlertChannels
from heimdall_pipeline.lifecycle.alerts import (
    ALERT_KEY,
    AlertDeliveryError,
    AlertState,
    CheckEvaluation,
    RunFailure,
    advance,
    compose,
    deliver,
    error_line,
)

SENSOR_INTERVAL_SECONDS = 30
EVENTS_PER_TICK = 500  # of each kind; a longer backlog is read over the next ticks


def _latest_storage_ids(instance: DagsterInstance) -> AlertState:
    """A cursor at the newest events: a new sensor (or one whose cursor was reset) alerts from now on."""
    runs = instance.fetch_run_status_changes(DagsterEventType.RUN_FAILURE, limit=1).records
    checks = instance.event_log_storage.get_event_records(
        EventRecordsFilter(DagsterEventType.ASSET_CHECK_EVALUATION), limit=1, ascending=False
    )
    return AlertState(runs[0].storage_id if runs else -1, checks[0].storage_id if checks else -1)


def _error_chain(error) -> list[tuple[str, str]]:
    chain = []
    while error is not None:
        chain.append((error.cls_name or "", error.message or ""))
        error = error.cause
    return chain


def _partition(tags) -> str | None:
    if tags.get(PARTITION_NAME_TAG):
        return tags[PARTITION_NAME_TAG]
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    return (start if start == end else f"{start}..{end}") if start else None


def _run_error(instance: DagsterInstance, run_id: str, failure_event) -> str:
    """The first line of the run's first failed step's error, else of the run's failure."""
    steps = instance.get_records_for_run(run_id, of_type=DagsterEventType.STEP_FAILURE, limit=1).records
    if steps:
        step = steps[0].event_log_entry.dagster_event
        if step is not None and step.step_failure_data is not None:
            return error_line(_error_chain(step.step_failure_data.error))
    data = failure_event.dagster_event.job_failure_data if failure_event.dagster_event else None
    if data is not None and data.error is not None:
        return error_line(_error_chain(data.error))
    return error_line([("", failure_event.message or "")])


def run_failures(instance: DagsterInstance, after: int) -> list[RunFailure]:
    records = instance.fetch_run_status_changes(
        RunStatusChangeRecordsFilter(DagsterEventType.RUN_FAILURE, after_storage_id=after),
        limit=EVENTS_PER_TICK,
        ascending=True,
    ).records
    run_ids = list({record.event_log_entry.run_id for record in records})
    runs = {run.run_id: run for run in instance.get_runs(RunsFilter(run_ids=run_ids))} if run_ids else {}
    failures = []
    for record in records:
        entry = record.event_log_entry
        run = runs.get(entry.run_id)
        if run is None:  # deleted since: nothing to link to
            continue
        will_retry = run.tags.get(WILL_RETRY_TAG)
        failures.append(
            RunFailure(
                storage_id=record.storage_id,
                run_id=run.run_id,
                job=run.job_name,
                partition=_partition(run.tags),
                error=_run_error(instance, run.run_id, entry),
                failed_at=datetime.fromtimestamp(record.timestamp, UTC),
                will_retry=None if will_retry is None else get_boolean_tag_value(will_retry),
                attempt=int(run.tags.get(RETRY_NUMBER_TAG, "0")) + 1,
            )
        )
    return failures


def check_evaluations(instance: DagsterInstance, after: int) -> list[CheckEvaluation]:
    records = instance.event_log_storage.get_event_records(
        EventRecordsFilter(DagsterEventType.ASSET_CHECK_EVALUATION, after_cursor=after),
        limit=EVENTS_PER_TICK,
        ascending=True,
    )
    run_ids = list({record.event_log_entry.run_id for record in records})
    jobs = {run.run_id: run.job_name for run in instance.get_runs(RunsFilter(run_ids=run_ids))} if run_ids else {}
    evaluations = []
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is None:  # the query asks for check evaluations: every record has its event
            continue
        evaluation = event.asset_check_evaluation_data
        alert_key = evaluation.metadata.get(ALERT_KEY)
        evaluations.append(
            CheckEvaluation(
                storage_id=record.storage_id,
                run_id=record.event_log_entry.run_id,
                job=jobs.get(record.event_log_entry.run_id, "-"),
                asset=evaluation.asset_key.to_user_string(),
                check=evaluation.check_name,
                partition=evaluation.partition,
                passed=evaluation.passed,
                severity=evaluation.severity.value,
                description=evaluation.description,
                alert_key=str(alert_key.value) if alert_key is not None else None,
            )
        )
    return evaluations


@sensor(
    name="alerts_sensor",
    minimum_interval_seconds=SENSOR_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        f"Every {SENSOR_INTERVAL_SECONDS} s: each failed run (the last of a retried chain) and each asset check "
        "that starts failing (ERROR or WARN, the freshness checks included) to the webhook and email of "
        "HEIMDALL_ALERT_*, once; more than HEIMDALL_ALERT_BURST_LIMIT (5) at once as one summary. Off while "
        "no channel is set."
    ),
)
def alerts_sensor(context: SensorEvaluationContext, alerts: AlertChannels):
    settings = alerts.settings()
    instance = context.instance
    state = AlertState.from_json(context.cursor)
    if state is None or not settings.enabled:
        # First tick, or alerts off: start (or stay) at the newest events, so turning alerts on
        # later does not send the history.
        context.update_cursor(_latest_storage_ids(instance).to_json())
        return SkipReason(
            "alerts off: set HEIMDALL_ALERT_WEBHOOK_URL or HEIMDALL_ALERT_SMTP_HOST"
            if not settings.enabled
            else "started: alerting on what fails from now on"
        )
    incidents, new_state = advance(
        state,
        run_failures(instance, state.runs_after),
        check_evaluations(instance, state.checks_after),
        now=datetime.now(UTC),
        retries_enabled=instance.run_retries_enabled,
    )
    messages = compose(incidents, settings)
    delivery = deliver(messages, settings)
    for error in delivery.errors:
        context.log.error(f"alert not delivered: {error}")
    if messages and not delivery.sent:
        # Nothing went out: keep the cursor, so the same alerts go on the next tick.
        raise AlertDeliveryError("no alert channel accepted the alerts: " + "; ".join(delivery.errors))
    context.update_cursor(new_state.to_json())
    if not incidents:
        return SkipReason("nothing new failed")
    return SkipReason(
        f"{len(incidents)} alert(s) in {len(messages)} message(s) to {', '.join(settings.channels)}"
        + (f"; {len(delivery.errors)} delivery error(s), see the log" if delivery.errors else "")
    )


ALERT_SENSORS = [alerts_sensor]
