"""A backfill under BackfillPolicy.multi_run is one ranged run: what each partition shows after it.

Asserted from the instance's storage (what the UI reads): each day's materializations and each
day's check results, recorded for that day's partition.
"""

import random
from datetime import date, timedelta

import pytest
from dagster import AssetCheckKey, AssetCheckSeverity, AssetKey, AssetRecordsFilter, AssetSelection, DagsterInstance
from dagster._core.event_api import PartitionKeyFilter
from dagster._core.storage.asset_check_execution_record import (
    AssetCheckExecutionRecordStatus,
    AssetCheckExecutionResolvedStatus,
)

from heimdall_pipeline.defs.ingest.checks import INGEST_ASSET_CHECKS, hourly_matches_measurements
from heimdall_pipeline.defs.partitions import daily_partitions
from heimdall_pipeline.devtools.sample_data import (
    SampleObject,
    bad_objects,
    encode,
    generate_day,
    measurement_document,
    metadata_key,
)
from heimdall_pipeline_tests.defs.conftest import (
    check_evaluations,
    figures,
    materialization_metadata,
    noon,
    put_uploaded_at,
    run_chain,
)

FIRST = date(2025, 8, 4)
DAYS = [FIRST + timedelta(days=offset) for offset in range(4)]
CHECK_NAMES = sorted(spec.name for checks in INGEST_ASSET_CHECKS for spec in checks.check_specs)
RANGE_TAGS = {
    "dagster/asset_partition_range_start": DAYS[0].isoformat(),
    "dagster/asset_partition_range_end": DAYS[-1].isoformat(),
}


def odd_snr_object(day: date) -> SampleObject:
    document = measurement_document(random.Random(3), 1, 145.5, noon(day))
    document["metrics"]["snr_db"] = 95.0
    return SampleObject(metadata_key("odd-snr", 1), encode(document))


@pytest.fixture
def uploaded(s3, bucket) -> dict[date, dict]:
    """Four upload days, each different: a full day with one rejected object, a day with no
    objects, a day with one receiver silent and one implausible SNR, and a small full day."""
    full = generate_day(DAYS[0], sessions=6, miss_rate=0)
    rejected = [o for o in bad_objects(DAYS[0]) if o.expected_rejection == "not_json"][:1]
    silent_7 = [o for o in generate_day(DAYS[2], sessions=4, miss_rate=0) if not o.key.endswith("websdr_7_metadata.json")]
    small = generate_day(DAYS[3], sessions=2, miss_rate=0)
    days = {
        DAYS[0]: {"objects": full + rejected, "rows": len(full), "rejected": 1},
        DAYS[1]: {"objects": [], "rows": 0, "rejected": 0},
        DAYS[2]: {"objects": silent_7 + [odd_snr_object(DAYS[2])], "rows": len(silent_7) + 1, "rejected": 0},
        DAYS[3]: {"objects": small, "rows": len(small), "rejected": 0},
    }
    for day, expected in days.items():
        if expected["objects"]:
            put_uploaded_at(s3, bucket, expected["objects"], noon(day))
    return days


def latest_materialization(instance, asset: str, day: date):
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[day.isoformat()]), limit=1
    ).records
    assert records, f"no materialization of {asset} for {day}"
    return records[0]


def latest_check(instance, asset: str, check_name: str, day: date):
    key = AssetCheckKey(AssetKey(asset), check_name)
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [key], partition_filter=PartitionKeyFilter(key=day.isoformat())
    )
    assert key in records, f"no result of {check_name} for {day}"
    return records[key]


def check_asset(check_name: str) -> str:
    return "measurements_hourly" if check_name == "hourly_matches_measurements" else "measurements"


def test_a_ranged_run_records_each_days_own_figures_and_check_results(resources, uploaded):
    instance = DagsterInstance.ephemeral()

    result = run_chain(resources, tags=RANGE_TAGS, instance=instance)

    assert result.success  # the failing checks only WARN
    runs = instance.get_runs()
    assert len(runs) == 1 and runs[0].tags["dagster/asset_partition_range_start"] == DAYS[0].isoformat()
    total_objects = sum(len(expected["objects"]) for expected in uploaded.values())
    for day, expected in uploaded.items():
        listing = latest_materialization(instance, "minio_metadata", day)
        assert listing.partition_key == day.isoformat()
        listed = figures(listing.asset_materialization.metadata)
        assert listed["dagster/row_count"] == listed["objects"] == len(expected["objects"])
        assert listed["upload days"] == day.isoformat()
        assert listed["run range: objects"] == total_objects  # the whole run's, named as such
        loading = figures(latest_materialization(instance, "measurements", day).asset_materialization.metadata)
        assert loading["dagster/row_count"] == loading["inserted"] == expected["rows"]
        assert (loading["objects"], loading["rejected"]) == (len(expected["objects"]), expected["rejected"])
        assert "not_json" in loading["rejections (first)"] if expected["rejected"] else "(none)" in loading["rejections (first)"]

    failing = {  # day → the checks that must fail that day, and only that day
        DAYS[0]: set(),
        DAYS[1]: {"all_receivers_reported"},  # nobody reported on a day without objects
        DAYS[2]: {"all_receivers_reported", "snr_in_plausible_range"},
        DAYS[3]: set(),
    }
    for day in DAYS:
        for name in CHECK_NAMES:
            record = latest_check(instance, check_asset(name), name, day)
            evaluation = record.event.dagster_event.event_specific_data
            assert record.partition == evaluation.partition == day.isoformat()
            assert record.run_id == result.run_id
            assert evaluation.passed == (name not in failing[day]), (day, name)
            expected_status = (
                AssetCheckExecutionRecordStatus.SUCCEEDED if evaluation.passed else AssetCheckExecutionRecordStatus.FAILED
            )
            assert record.status == expected_status
            # It is about this day's materialization, so the UI does not call it outdated.
            target = latest_materialization(instance, check_asset(name), day)
            assert evaluation.target_materialization_data.storage_id == target.storage_id
    silent = latest_check(instance, "measurements", "all_receivers_reported", DAYS[2]).event.dagster_event
    assert silent.event_specific_data.metadata["missing receivers"].value == "Milano - Baggio"
    assert silent.event_specific_data.severity == AssetCheckSeverity.WARN

    # What the UI's partition view of a check reads: every day's latest execution, none left planned.
    infos = instance.event_log_storage.get_asset_check_partition_info(
        [AssetCheckKey(AssetKey("measurements"), "all_receivers_reported")]
    )
    statuses = {info.partition_key: info.latest_execution_status for info in infos if info.partition_key}
    assert statuses == {
        day.isoformat(): (
            AssetCheckExecutionRecordStatus.FAILED if day in (DAYS[1], DAYS[2]) else AssetCheckExecutionRecordStatus.SUCCEEDED
        )
        for day in DAYS
    }
    assert all(info.is_current for info in infos if info.partition_key)

    # What the UI's partition status bar of the check shows (AssetCheckState, as dagster-graphql
    # loads it): each day Succeeded or Failed, none Skipped.
    check_key = AssetCheckKey(AssetKey("measurements"), "all_receivers_reported")
    state = instance.event_log_storage.get_asset_check_state([(check_key, daily_partitions)])[check_key]
    shown = {
        status: sorted(subset.subset_value.get_partition_keys())
        for status, subset in state.subsets.items()
        if subset is not None and not subset.is_empty
    }
    assert shown == {
        AssetCheckExecutionResolvedStatus.SUCCEEDED: [DAYS[0].isoformat(), DAYS[3].isoformat()],
        AssetCheckExecutionResolvedStatus.FAILED: [DAYS[1].isoformat(), DAYS[2].isoformat()],
    }

    # The run's own result per check summarises its days (stored without a partition).
    summary = {e.check_name: e for e in result.get_asset_check_evaluations() if e.partition is None}
    assert sorted(summary) == CHECK_NAMES
    assert not summary["all_receivers_reported"].passed
    assert summary["all_receivers_reported"].metadata["run range: days failed"].value == f"{DAYS[1]}, {DAYS[2]}"
    assert summary["hourly_matches_measurements"].passed


def test_a_failing_blocking_check_on_one_day_of_a_range_still_stops_downstream(resources, uploaded, db):
    """hourly_matches_measurements is blocking: one bad day of a ranged run fails its step (so
    Dagster skips what depends on measurements_hourly), and only that day's result failed."""
    instance = DagsterInstance.ephemeral()
    assert run_chain(resources, tags=RANGE_TAGS, instance=instance).success
    db.execute(
        "UPDATE measurements_hourly SET measurement_count = measurement_count + 1 WHERE bucket >= %s AND bucket < %s",
        [noon(DAYS[3]).replace(hour=0), noon(DAYS[3]).replace(hour=0) + timedelta(days=1)],
    )
    db.commit()

    checked = run_chain(
        resources,
        tags=RANGE_TAGS,
        instance=instance,
        selection=AssetSelection.checks(hourly_matches_measurements),
        raise_on_error=False,
    )

    assert not checked.success
    failures = [event for event in checked.all_events if event.is_step_failure]
    assert len(failures) == 1
    assert "blocking asset check failed" in failures[0].step_failure_data.error.message
    for day in DAYS:
        record = latest_check(instance, "measurements_hourly", "hourly_matches_measurements", day)
        assert record.event.dagster_event.event_specific_data.passed == (day != DAYS[3]), day


def test_a_single_partition_run_reports_as_before(resources, uploaded):
    instance = DagsterInstance.ephemeral()

    result = run_chain(resources, DAYS[2].isoformat(), instance=instance)

    assert result.success
    loading = materialization_metadata(result, "measurements")
    assert len(loading) == 1 and not any(name.startswith("run range") for name in loading[0])
    assert loading[0]["dagster/row_count"] == uploaded[DAYS[2]]["rows"]
    evaluations = result.get_asset_check_evaluations()
    assert sorted(e.check_name for e in evaluations) == CHECK_NAMES  # one result per check, no summary
    assert {e.partition for e in evaluations} == {DAYS[2].isoformat()}
    assert not check_evaluations(result)["all_receivers_reported"].passed
    record = latest_check(instance, "measurements", "all_receivers_reported", DAYS[2])
    assert record.status == AssetCheckExecutionRecordStatus.FAILED and record.run_id == result.run_id
