"""Fixtures for the Dagster layer: resources pointed at the test database and bucket, and helpers
to put a day of objects in the bucket with chosen upload times."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from dagster import materialize

from heimdall_pipeline.defs.ingest.assets import INGEST_ASSETS
from heimdall_pipeline.defs.ingest.checks import INGEST_ASSET_CHECKS
from heimdall_pipeline.defs.resources import HeimdallBuckets, HeimdallS3Resource, IQRecordingsResource, TimescaleResource
from heimdall_pipeline.devtools.sample_data import SampleObject, upload
from heimdall_pipeline.ingest.discovery import ReconcilePass, reconcile_all
from heimdall_pipeline_tests.conftest import TEST_DB_SCHEMA, backdate

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@pytest.fixture
def resources(clean_database_url, reader_database_url, archiver_database_url, s3_endpoint_url, bucket):
    return {
        "timescale": TimescaleResource(database_url=clean_database_url, db_schema=TEST_DB_SCHEMA),
        "archiver": TimescaleResource(database_url=archiver_database_url, db_schema=TEST_DB_SCHEMA),
        "reader": TimescaleResource(database_url=reader_database_url, db_schema=TEST_DB_SCHEMA),
        "s3": HeimdallS3Resource(
            endpoint_url=s3_endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="heimdall",
            aws_secret_access_key="heimdall-secret",
        ),
        "buckets": HeimdallBuckets(raw=bucket),
        "iq_recordings": IQRecordingsResource(concurrency=4),
    }


def noon(day: date) -> datetime:
    return datetime.combine(day, time(12), tzinfo=UTC)


def put_uploaded_at(
    s3, bucket: str, objects: list[SampleObject], uploaded_at: datetime, with_iq: bool = False, spacing: float = 1.0
) -> None:
    """PUT objects and give them LastModified from `uploaded_at` on, `spacing` seconds apart."""
    upload(s3, bucket, objects, with_iq=with_iq)
    for index, obj in enumerate(objects):
        backdate(bucket, obj.key, uploaded_at + timedelta(seconds=index * spacing))


def discover_uploads(resources) -> ReconcilePass:
    """What discovery does before a run is requested (the sensor's reconciliation, whole): record
    the bucket's objects in the ledger. A run then takes its day's objects from the ledger."""
    with resources["timescale"].connection() as conn:
        return reconcile_all(conn, resources["s3"].get_client(), resources["buckets"].raw)


def run_chain(
    resources,
    partition_key: str | None = None,
    *,
    tags=None,
    selection=None,
    raise_on_error=True,
    instance=None,
    discover: bool = True,
):
    """Discover the bucket's objects (unless `discover` is False), then materialize the ingest chain
    with its checks, as a run the sensor requests does."""
    if discover:
        discover_uploads(resources)
    return materialize(
        [*INGEST_ASSETS, *INGEST_ASSET_CHECKS],
        partition_key=partition_key,
        instance=instance,
        resources=resources,
        tags=tags,
        selection=selection,
        raise_on_error=raise_on_error,
        run_config=QUIET,
    )


class Figures(dict):
    """A materialization's metadata as the UI shows it: a counter it leaves out (at zero) reads 0."""

    def __missing__(self, key):
        return 0


def figures(metadata) -> Figures:
    return Figures({name: value.value for name, value in metadata.items()})


def materialization_metadata(result, asset: str) -> list[dict]:
    return [
        figures(event.materialization.metadata)
        for event in result.get_asset_materialization_events()
        if event.materialization.asset_key.to_user_string() == asset
    ]


def check_evaluations(result) -> dict[str, object]:
    return {evaluation.check_name: evaluation for evaluation in result.get_asset_check_evaluations()}


def store_uploaded_at(bucket: str, objects: list[SampleObject], uploaded_at: datetime, spacing: float = 1.0) -> None:
    """Like put_uploaded_at, but straight into the in-process S3 server: thousands of PUTs over
    HTTP cost ~10 ms each here, and what the tests exercise is the listing, not the PUT."""
    from moto.s3.models import s3_backends

    from heimdall_pipeline_tests.conftest import MOTO_ACCOUNT_ID

    backend = s3_backends[MOTO_ACCOUNT_ID]["aws"]
    for index, obj in enumerate(objects):
        stored = backend.put_object(bucket, obj.key, obj.body)
        stored.last_modified = (uploaded_at + timedelta(seconds=index * spacing)).replace(tzinfo=None)
