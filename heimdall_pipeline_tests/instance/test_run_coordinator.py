"""WorkTagsRunCoordinator: each run queued with the tags of its kind of work, whatever launched it.
(Under `make serve`, the queue holding and releasing runs by these tags: test_serve.py.)"""

from __future__ import annotations

import pytest
from dagster import AssetCheckKey, AssetKey, instance_for_test
from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.run_coordinator.base import SubmitRunContext
from dagster._core.storage.dagster_run import DagsterRunStatus
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
    PARTITION_NAME_TAG,
)

from heimdall_pipeline.instance.run_coordinator import (
    BACKGROUND_TAG,
    INGEST_ASSETS,
    INGEST_DAY_TAG,
    IQ_ASSETS,
    IQ_DAY_TAG,
    WORK_TAGS,
    WorkTagsRunCoordinator,
    work_tags,
)

DAY = "2026-11-20"
ONE_DAY = {PARTITION_NAME_TAG: DAY}
COORDINATOR = {
    "module": "heimdall_pipeline.instance.run_coordinator",
    "class": "WorkTagsRunCoordinator",
    "config": {"max_concurrent_runs": 4},
}


@pytest.mark.parametrize(
    ("assets", "tags", "expected"),
    [
        (INGEST_ASSETS, ONE_DAY, {INGEST_DAY_TAG: DAY}),
        ({"measurements"}, ONE_DAY, {INGEST_DAY_TAG: DAY}),
        (IQ_ASSETS, ONE_DAY, {IQ_DAY_TAG: DAY, BACKGROUND_TAG: "iq"}),
        # "Materialize all" of a day: both limits hold it, and it loads, so it is not background.
        (INGEST_ASSETS | IQ_ASSETS, ONE_DAY, {INGEST_DAY_TAG: DAY, IQ_DAY_TAG: DAY}),
        # A backfill run of one day carries a range of one key, not dagster/partition.
        ({"measurements"}, {ASSET_PARTITION_RANGE_START_TAG: DAY, ASSET_PARTITION_RANGE_END_TAG: DAY}, {INGEST_DAY_TAG: DAY}),
        # A ranged backfill run: no day tag (it stays under dagster/backfill, its loads under the day locks).
        ({"measurements"}, {ASSET_PARTITION_RANGE_START_TAG: DAY, ASSET_PARTITION_RANGE_END_TAG: "2026-11-29"}, {}),
        ({"snr_trends", "coverage"}, {}, {BACKGROUND_TAG: "reports"}),
        ({"timescaledb_health"}, {}, {BACKGROUND_TAG: "reports"}),
        (set(), {}, {BACKGROUND_TAG: "retention_job"}),
    ],
)
def test_the_kind_of_work_follows_the_assets_of_the_run(assets, tags, expected):
    assert work_tags(assets, tags, "retention_job") == expected


def test_a_run_of_checks_alone_is_background_work_even_on_a_day():
    assert work_tags(set(), ONE_DAY, "__ASSET_JOB", checks=True) == {BACKGROUND_TAG: "checks"}


def test_the_kinds_name_the_assets_of_the_definitions():
    """The plug-in never imports the code location: its names must follow the definitions, and
    every partitioned asset is ingest or IQ work (a new one makes this fail until it is placed)."""
    from heimdall_pipeline.definitions import defs
    from heimdall_pipeline.defs.ingest.assets import INGEST_ASSETS as ingest_defs
    from heimdall_pipeline.defs.iq.assets import IQ_ASSETS as iq_defs

    def names(assets):
        return {key.to_user_string() for asset in assets for key in asset.keys}

    assert names(ingest_defs) == INGEST_ASSETS and names(iq_defs) == IQ_ASSETS
    graph = defs.resolve_asset_graph()
    partitioned = {key.to_user_string() for key in graph.get_all_asset_keys() if graph.get(key).is_partitioned}
    assert partitioned == INGEST_ASSETS | IQ_ASSETS


def _origin(job_name: str) -> RemoteJobOrigin:
    location = GrpcServerCodeLocationOrigin(host="127.0.0.1", port=1, location_name="heimdall_pipeline")
    return RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), job_name)


def _submitted(instance, job_name: str, tags: dict, **run) -> dict:
    from heimdall_pipeline.definitions import defs

    if "asset_check_selection" in run:  # as the webserver records "Execute checks" (no plan needed here)
        from dagster._core.test_utils import create_run_for_test

        created = create_run_for_test(instance, job_name=job_name, tags=tags, remote_job_origin=_origin(job_name), **run)
    else:
        job = defs.resolve_job_def(job_name)
        created = instance.create_run_for_job(job, tags=tags, remote_job_origin=_origin(job_name), **run)
    assert created.status == DagsterRunStatus.NOT_STARTED
    queued = instance.run_coordinator.submit_run(SubmitRunContext(created, workspace=None))
    assert queued.status == DagsterRunStatus.QUEUED
    stored = instance.get_run_by_id(created.run_id)
    assert stored.tags == queued.tags
    return {key: value for key, value in stored.tags.items() if key in WORK_TAGS}


def test_runs_are_queued_with_their_work_tags_however_they_were_launched():
    with instance_for_test(overrides={"run_coordinator": COORDINATOR}) as instance:
        assert isinstance(instance.run_coordinator, WorkTagsRunCoordinator)
        # A job launched whole (the sensor's ingest_job, iq_job): the assets of its execution plan.
        assert _submitted(instance, "ingest_job", ONE_DAY) == {INGEST_DAY_TAG: DAY}
        assert _submitted(instance, "iq_job", ONE_DAY) == {IQ_DAY_TAG: DAY, BACKGROUND_TAG: "iq"}
        # The UI's "Materialize": Dagster's asset job with an asset selection.
        ui = _submitted(instance, "__ASSET_JOB", ONE_DAY, asset_selection=frozenset({AssetKey("measurements")}))
        assert ui == {INGEST_DAY_TAG: DAY}
        iq = _submitted(instance, "__ASSET_JOB", ONE_DAY, asset_selection=frozenset({AssetKey("iq_metrics")}))
        assert iq == {IQ_DAY_TAG: DAY, BACKGROUND_TAG: "iq"}
        # "Execute checks" of a day in the UI: the checks alone, no materialization.
        checks_only = _submitted(
            instance,
            "__ASSET_JOB",
            ONE_DAY,
            asset_selection=frozenset(),
            asset_check_selection=frozenset({AssetCheckKey(AssetKey("measurements"), "no_conflicting_rows")}),
        )
        assert checks_only == {BACKGROUND_TAG: "checks"}
        assert _submitted(instance, "freshness_checks_job", {}) == {BACKGROUND_TAG: "checks"}
        assert _submitted(instance, "reports_job", {}) == {BACKGROUND_TAG: "reports"}
        assert _submitted(instance, "retention_job", {}) == {BACKGROUND_TAG: "retention_job"}


def test_a_run_whose_kind_cannot_be_told_is_still_queued(monkeypatch):
    def broken(self, run):
        raise RuntimeError("no snapshot")

    monkeypatch.setattr(WorkTagsRunCoordinator, "_work_tags", broken)
    with instance_for_test(overrides={"run_coordinator": COORDINATOR}) as instance:
        assert _submitted(instance, "ingest_job", ONE_DAY) == {}
