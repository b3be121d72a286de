"""`make demo`: a realistic day through the Dagster ingest chain, then what landed in the database.

A script beside the package, not a module of it: it drives the Dagster layer (defs/), and nothing
in the package imports that layer but definitions.py (docs/developing.md, "Imports run one way").

Uploads today's objects up to now (of 200 sessions spread over the whole day, each heard by up to
7 receivers; the bad-object zoo; `.npy` siblings) to the configured bucket, records them in the
ingest ledger with one reconciliation pass (what the sensor does slice by slice), materializes
minio_metadata → measurements → measurements_hourly → iq_metrics → heimdall_vs_recomputed_metrics for
today's partition, and prints a summary.
Run it twice: the second run uploads the same bytes for what was there (same ETags), so the ledger
calls those unchanged, and only the sessions stamped since the first run are new.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime

from dagster import BetaWarning, DagsterInstance, PreviewWarning, materialize

# The demo's reader wants the data, not Dagster's notes on beta parameters.
warnings.filterwarnings("ignore", category=BetaWarning)
warnings.filterwarnings("ignore", category=PreviewWarning)

from heimdall_pipeline.core.db import connect, read_sql
from heimdall_pipeline.core.object_store import s3_client_from_settings
from heimdall_pipeline.core.settings import Settings, check_instance, exit_on_config_error
from heimdall_pipeline.defs.ingest.assets import INGEST_ASSETS
from heimdall_pipeline.defs.ingest.checks import INGEST_ASSET_CHECKS
from heimdall_pipeline.defs.iq.assets import IQ_ASSET_CHECKS, IQ_ASSETS
from heimdall_pipeline.defs.partitions import day_window
from heimdall_pipeline.defs.resources import resources_from_env
from heimdall_pipeline.devtools.sample_data import bad_objects, generate_day, upload
from heimdall_pipeline.ingest.discovery import reconcile_all
from heimdall_pipeline.ingest.loader import ledger_summary

DEMO_SESSIONS = 200


def _ensure_bucket(s3, bucket: str) -> None:
    existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    if bucket not in existing:
        s3.create_bucket(Bucket=bucket)


def _instance() -> DagsterInstance:
    """The persistent instance of $DAGSTER_HOME (`make up` sets it): the run shows in `make dev` / `make serve`."""
    check_instance()
    return DagsterInstance.get()


def main() -> int:
    with exit_on_config_error("demo"):
        settings = Settings.from_env()
        check_instance()
    now = datetime.now(UTC)
    today = now.date()
    partition = today.isoformat()
    s3 = s3_client_from_settings(settings)
    _ensure_bucket(s3, settings.s3_bucket)
    # Measurements up to now only: a demo run at 04:00 must not show receivers heard at 23:00.
    objects = generate_day(today, sessions=DEMO_SESSIONS, until=now) + bad_objects(today)
    uploaded = upload(s3, settings.s3_bucket, objects, with_iq=True)
    print(f"uploaded {uploaded} objects ({len(objects)} metadata + .npy) to s3://{settings.s3_bucket} for {today}")
    with connect(settings.database_url) as conn:
        found = reconcile_all(conn, s3, settings.s3_bucket)
    print(
        f"reconciliation pass over {found.listed} metadata objects ({found.pages} LIST pages): "
        f"{found.new} new and {found.changed} changed recorded in ingest_ledger"
    )

    with _instance() as instance:
        result = materialize(
            [*INGEST_ASSETS, *INGEST_ASSET_CHECKS, *IQ_ASSETS, *IQ_ASSET_CHECKS],
            partition_key=partition,
            resources=resources_from_env(),
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
        )
    metadata = {
        m.asset_key.to_user_string(): m.metadata for m in result.get_asset_materialization_events() for m in [m.materialization]
    }
    listing, loading = metadata.get("minio_metadata", {}), metadata.get("measurements", {})
    recordings, comparison = metadata.get("iq_metrics", {}), metadata.get("heimdall_vs_recomputed_metrics", {})

    def value(meta, name):
        # A counter the materialization leaves out is zero (defs/metadata.py); "?" only if the asset never ran.
        return meta[name].value if name in meta else (0 if meta else "?")

    print(f"\nDagster run {result.run_id[:8]}: {'succeeded' if result.success else 'FAILED'} (partition {partition})")
    print(f"  minio_metadata: {value(listing, 'objects')} objects of the day in the ledger, {value(listing, 'pending')} pending")
    print(
        f"  measurements:   {value(loading, 'objects')} pending objects processed — inserted {value(loading, 'inserted')}, "
        f"updated {value(loading, 'updated')}, already present {value(loading, 'already present')}, "
        f"conflicts {value(loading, 'conflicts')}, rejected {value(loading, 'rejected')}, failed {value(loading, 'failed')}"
    )
    print(
        f"  iq_metrics:     {value(recordings, 'recordings')} recordings ({value(recordings, 'read in this run')} read "
        f"in this run, {value(recordings, 'recordings/s')}/s) — computed {value(recordings, 'computed')}, "
        f"rejected {value(recordings, 'rejected')}, missing {value(recordings, 'missing')}, "
        f"failed {value(recordings, 'failed')}; no signal in {value(recordings, 'flag: no_signal')}"
    )
    print(f"  heimdall_vs_recomputed_metrics: {value(comparison, 'agreement')}")
    if "png_url" in comparison:
        print(f"    plot: {value(comparison, 'png_url')}")
    if found.new == 0 and found.changed == 0:
        print("  (objects already loaded have the same keys, content and ETags: they were not loaded again)")
    for evaluation in result.get_asset_check_evaluations():
        state = "passed" if evaluation.passed else f"FAILED ({evaluation.severity.value})"
        print(f"  check {evaluation.asset_key.to_user_string()}.{evaluation.check_name}: {state}")

    start, end = day_window(partition)
    with connect(settings.database_url) as conn:
        summary = ledger_summary(conn, start, end)
        day_rows, hourly_groups, receivers = conn.execute(
            read_sql("devtools/day_overview.sql"), {"start": start, "end": end}
        ).fetchone()
        reasons = conn.execute(read_sql("ingest/ledger/rejection_reasons.sql"), {"start": start, "end": end}).fetchall()
    print(f"\ningest_ledger, objects uploaded on {today}:")
    for status, (count, size) in sorted(summary.items()):
        print(f"  {status:<10} {count:>6} objects {size:>10,} bytes")
    print(
        f"measurements on {today}: {day_rows} rows from {receivers} receivers; measurements_hourly: {hourly_groups} hourly groups"
    )
    print("rejections:")
    for reason, count in reasons:
        print(f"  {count:>3} × {reason}")
    return 0 if result.success else 1


if __name__ == "__main__":
    raise SystemExit(main())
