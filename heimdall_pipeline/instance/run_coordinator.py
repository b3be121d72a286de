"""Dagster's QueuedRunCoordinator, plus a tag per kind of work on every run it queues.

The run queue's limits (dagster.yaml, `tag_concurrency_limits`) count run tags, and the only tag
that named a day, `dagster/partition`, is on every partitioned run: an IQ run of a day held the
same day's ingest run in the queue. Here each run is tagged, when it is submitted, by what it
materializes, whoever launched it (the sensor, the schedule, the UI's "Materialize" and backfills,
automation conditions, run_retries), so each limit counts one kind of work:

  heimdall/ingest_day=<day>   the run loads or aggregates that upload day (materializes an ingest asset)
  heimdall/iq_day=<day>       the run recomputes that day's IQ metrics or their comparison
  heimdall/background=<kind>  the run loads nothing: `iq`, `reports` (the reports and health),
                              `checks` (checks only, e.g. freshness_checks_job) or the job's name
                              (an op job: retention_job, restore_job)

The kind comes from what the run materializes: its asset selection, or, for a job launched whole
(`ingest_job`, `iq_job`), the assets of its execution plan. A day tag is set for a run of one
partition (`dagster/partition`, or a one-day range); a backfill run over a range of days gets
none (a tag holds one value), and it stays under the `dagster/backfill` limit; its loads still
wait for each day's advisory lock (heimdall_pipeline.ingest.uploads.upload_day_lock).

Submission never fails because of this: a run whose kind cannot be told is queued untagged.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from dagster._core.run_coordinator.base import SubmitRunContext
from dagster._core.run_coordinator.queued_run_coordinator import QueuedRunCoordinator
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

INGEST_DAY_TAG = "heimdall/ingest_day"
IQ_DAY_TAG = "heimdall/iq_day"
BACKGROUND_TAG = "heimdall/background"
WORK_TAGS = (INGEST_DAY_TAG, IQ_DAY_TAG, BACKGROUND_TAG)

# The assets of each kind, by name (this plug-in of the instance never imports the code location;
# heimdall_pipeline_tests/instance/test_run_coordinator.py checks these against the Definitions).
INGEST_ASSETS = frozenset({"minio_metadata", "measurements", "measurements_hourly"})
IQ_ASSETS = frozenset({"iq_metrics", "heimdall_vs_recomputed_metrics"})

logger = logging.getLogger(__name__)


def run_day(tags: Mapping[str, str]) -> str | None:
    """The one partition a run covers: its `dagster/partition`, or a range of a single key."""
    if tags.get(PARTITION_NAME_TAG):
        return tags[PARTITION_NAME_TAG]
    start, end = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    return start if start and start == end else None


def work_tags(materialized: Iterable[str], tags: Mapping[str, str], job_name: str, checks: bool = False) -> dict[str, str]:
    """The kind-of-work tags of a run that materializes the assets named `materialized` (and
    runs asset checks, `checks`)."""
    names = set(materialized)
    day = run_day(tags)
    loads, iq = names & INGEST_ASSETS, names & IQ_ASSETS
    found: dict[str, str] = {}
    if loads and day:
        found[INGEST_DAY_TAG] = day
    if iq and day:
        found[IQ_DAY_TAG] = day
    if not loads:
        found[BACKGROUND_TAG] = "iq" if iq else "reports" if names else "checks" if checks else job_name
    return found


class WorkTagsRunCoordinator(QueuedRunCoordinator):
    """QueuedRunCoordinator (same configuration) that tags each run with its kind of work first."""

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        if run.status == DagsterRunStatus.NOT_STARTED:
            try:
                new = {k: v for k, v in self._work_tags(run).items() if run.tags.get(k) != v}
            except Exception:  # never refuse a run for want of a tag
                logger.exception("could not tell the kind of work of run %s; queued without work tags", run.run_id)
                new = {}
            if new:
                self._instance.add_run_tags(run.run_id, new)
                run = self._instance.get_run_by_id(run.run_id) or run
                context = context._replace(dagster_run=run)
        return super().submit_run(context)

    def _work_tags(self, run: DagsterRun) -> dict[str, str]:
        materialized, checks = self._targets(run)
        return work_tags(materialized, run.tags, run.job_name, checks=checks)

    def _targets(self, run: DagsterRun) -> tuple[set[str], bool]:
        """(names of the assets the run materializes, whether it runs asset checks)."""
        if run.asset_selection is not None or run.asset_check_selection is not None:
            keys = set(run.asset_selection or ())
            return {key.to_user_string() for key in keys}, bool(run.asset_check_selection)
        # A job launched whole: the steps of its execution plan.
        snapshot = (
            self._instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id) if run.execution_plan_snapshot_id else None
        )
        materialized, checks = set(), False
        if snapshot is not None:
            selected = set(snapshot.step_keys_to_execute or ())
            for step in snapshot.steps:
                if selected and step.key not in selected:
                    continue
                for output in step.outputs:
                    properties = output.properties
                    if properties is not None and properties.asset_check_key is not None:
                        checks = True
                    elif properties is not None and properties.asset_key is not None:
                        materialized.add(properties.asset_key.to_user_string())
        return materialized, checks
