import json
import random
from datetime import date

from dagster import AssetCheckSeverity, AssetSelection

from heimdall_pipeline.defs.ingest.checks import hourly_matches_measurements
from heimdall_pipeline.devtools.sample_data import SampleObject, encode, generate_day, measurement_document, metadata_key
from heimdall_pipeline_tests.defs.conftest import (
    check_evaluations,
    discover_uploads,
    materialization_metadata,
    noon,
    put_uploaded_at,
    run_chain,
)

DAY = date(2025, 7, 1)


def odd_object(websdr_id: int = 1, **metrics) -> SampleObject:
    document = measurement_document(random.Random(7), websdr_id, 145.5, noon(DAY))
    document["metrics"].update(metrics)
    return SampleObject(metadata_key(f"odd-{json.dumps(metrics, sort_keys=True)}", websdr_id), encode(document))


def test_warning_checks_pass_on_a_normal_day(resources, s3, bucket):
    put_uploaded_at(s3, bucket, generate_day(DAY, sessions=10, miss_rate=0), noon(DAY))
    evaluations = check_evaluations(run_chain(resources, DAY.isoformat()))
    for name in (
        "all_receivers_reported",
        "snr_in_plausible_range",
        "frequency_offset_within_band",
        "no_object_unaccounted",
        "hourly_matches_measurements",
    ):
        assert evaluations[name].passed, name
    assert evaluations["no_object_unaccounted"].partition == DAY.isoformat()


def test_missing_receiver_warns_with_its_name(resources, s3, bucket):
    day = [o for o in generate_day(DAY, sessions=10) if not o.key.endswith("websdr_7_metadata.json")]
    put_uploaded_at(s3, bucket, day, noon(DAY))

    result = run_chain(resources, DAY.isoformat())

    assert result.success  # a warning does not stop the chain
    evaluation = check_evaluations(result)["all_receivers_reported"]
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
    assert evaluation.metadata["missing receivers"].value == "Milano - Baggio"


def test_implausible_snr_and_offset_warn_with_counts(resources, s3, bucket):
    odd = [
        odd_object(snr_db=95.0),
        odd_object(websdr_id=2, frequency_offset_hz=7_000.0),
        odd_object(websdr_id=3, frequency_offset_hz=-6_300.0),
    ]
    put_uploaded_at(s3, bucket, generate_day(DAY, sessions=5) + odd, noon(DAY))

    result = run_chain(resources, DAY.isoformat())

    assert result.success
    snr = check_evaluations(result)["snr_in_plausible_range"]
    assert not snr.passed and snr.severity == AssetCheckSeverity.WARN
    assert snr.metadata["out of range"].value == 1 and snr.metadata["max snr_db"].value == 95.0
    offset = check_evaluations(result)["frequency_offset_within_band"]
    assert not offset.passed and offset.severity == AssetCheckSeverity.WARN
    assert offset.metadata["out of range"].value == 2  # |offset| > 12.5 kHz / 2 = 6,250 Hz
    assert offset.metadata["max |offset| Hz"].value == 7_000.0


def test_an_object_landing_after_discovery_is_the_next_passs_to_find(resources, s3, bucket, db):
    first = generate_day(DAY, sessions=5, seed=1, miss_rate=0)
    put_uploaded_at(s3, bucket, first, noon(DAY))
    discover_uploads(resources)
    straggler = generate_day(DAY, sessions=1, seed=2, miss_rate=0)
    put_uploaded_at(s3, bucket, straggler, noon(DAY).replace(hour=18))

    # The run loads what the ledger has and never lists the bucket: the straggler is not its failure.
    result = run_chain(resources, DAY.isoformat(), discover=False)
    evaluation = check_evaluations(result)["no_object_unaccounted"]
    assert result.success and evaluation.passed
    assert evaluation.metadata["objects in ledger"].value == len(first)

    # The reconciliation finds it (what a lost notification would have said) and its day's run loads it.
    assert discover_uploads(resources).new == len(straggler)
    again = run_chain(resources, DAY.isoformat(), discover=False)
    assert materialization_metadata(again, "measurements")[0]["inserted"] == len(straggler)


def test_hourly_disagreeing_with_the_rows_fails(resources, s3, bucket, db):
    put_uploaded_at(s3, bucket, generate_day(DAY, sessions=10), noon(DAY))
    assert run_chain(resources, DAY.isoformat()).success
    with db.transaction():
        db.execute(
            "UPDATE measurements_hourly SET snr_avg_db = snr_avg_db + 0.5 "
            "WHERE bucket = (SELECT min(bucket) FROM measurements_hourly)"
        )
        db.execute("DELETE FROM measurements_hourly WHERE bucket = (SELECT max(bucket) FROM measurements_hourly)")
    expected_wrong = db.execute(
        "SELECT count(*) FROM measurements_hourly WHERE bucket = (SELECT min(bucket) FROM measurements_hourly)"
    ).fetchone()[0]
    expected_missing = db.execute(
        "SELECT count(DISTINCT (websdr_id, frequency_mhz)) FROM measurements "
        "WHERE date_trunc('hour', timestamp_utc) = (SELECT max(date_trunc('hour', timestamp_utc)) FROM measurements)"
    ).fetchone()[0]

    # The check alone, as "Execute check" in the UI does (a check-only selection takes the partition as tags).
    result = run_chain(
        resources,
        selection=AssetSelection.checks(hourly_matches_measurements),
        raise_on_error=False,
        tags={"dagster/partition": DAY.isoformat()},
    )

    evaluation = check_evaluations(result)["hourly_matches_measurements"]
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.ERROR
    assert evaluation.metadata["mismatched groups"].value == expected_wrong + expected_missing
