"""Values at every bound of the plausible ranges pass validation, load, and break nothing downstream:
the hourly aggregates, the five reports and the asset checks' queries all succeed with the right
numbers (computed here independently, in Python)."""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, timedelta

import pytest

from heimdall_pipeline.analytics.aggregates import day_bounds, hourly_mismatches, refresh_hourly
from heimdall_pipeline.analytics.reports import REPORTS, build_report
from heimdall_pipeline.core.object_store import ObjectInfo
from heimdall_pipeline.devtools.sample_data import encode, metadata_key
from heimdall_pipeline.ingest.ledger import PLAUSIBLE_SNR_RANGE_DB, partition_rows, receiver_counts
from heimdall_pipeline.ingest.loader import load_object_batch
from heimdall_pipeline.ingest.measurement import (
    FREQUENCY_MHZ_MAX,
    FREQUENCY_OFFSET_HZ_MAX,
    POWER_DBM_RANGE,
    SAMPLE_RATE_KHZ_MAX,
    SAMPLES_COUNT_MAX,
    STORABLE_SNR_DB_RANGE,
    parse_metadata_object,
)

BUCKET = "heimdall-raw-iq"
UPLOADED = datetime(2026, 11, 28, 12, tzinfo=UTC)
LAST_DAY = date(2099, 12, 31)
FIRST_DAY = date(2000, 1, 1)
TINY = 1e-9  # the smallest positive frequency and sample rate we try: "0 <" is the bound
SNR_LOW, SNR_HIGH = STORABLE_SNR_DB_RANGE
POWER_LOW, POWER_HIGH = POWER_DBM_RANGE
OFFSET = FREQUENCY_OFFSET_HZ_MAX

# (task, receiver, timestamp, frequency MHz, sample rate kHz, samples, snr, offset, power)
EXTREMES = [
    # The last instant accepted, every maximum.
    (
        "top",
        1,
        "2099-12-31T23:59:59.999999",
        FREQUENCY_MHZ_MAX,
        SAMPLE_RATE_KHZ_MAX,
        SAMPLES_COUNT_MAX,
        SNR_HIGH,
        OFFSET,
        POWER_HIGH,
    ),
    # The same hour and group, every minimum.
    ("bottom", 1, "2099-12-31T18:00:00-05:00", FREQUENCY_MHZ_MAX, TINY, 1, SNR_LOW, -OFFSET, POWER_LOW),
    # Another receiver, the smallest frequency, three equal extremes (stddev 0).
    *((f"flat{i}", 2, f"2099-12-31T00:{i:02d}:00Z", TINY, 12.5, 125_000, SNR_HIGH, OFFSET, POWER_HIGH) for i in range(3)),
    # The first instant accepted.
    ("first", 3, "2000-01-01T01:00:00+01:00", TINY, TINY, 1, SNR_LOW, -OFFSET, POWER_LOW),
]


def _body(row) -> tuple[str, bytes]:
    task, websdr_id, stamp, frequency, rate, samples, snr, offset, power = row
    return metadata_key(task, websdr_id), encode(
        {
            "websdr_id": websdr_id,
            "frequency_mhz": frequency,
            "sample_rate_khz": rate,
            "samples_count": samples,
            "timestamp_utc": stamp,
            "metrics": {"snr_db": snr, "frequency_offset_hz": offset, "power_dbm": power},
        }
    )


@pytest.fixture
def loaded(db):
    parsed = []
    for index, row in enumerate(EXTREMES):
        key, body = _body(row)
        info = ObjectInfo(key, f"etag{index}", len(body), UPLOADED + timedelta(seconds=index))
        parsed.append((info, parse_metadata_object(BUCKET, key, body)))  # each one passes validation
    assert load_object_batch(db, parsed).inserted == len(EXTREMES)
    return db


def _hours(stamp: datetime) -> float:
    return stamp.timestamp() / 3600


def test_hourly_aggregates_of_the_extremes_are_exact(loaded):
    assert refresh_hourly(loaded, LAST_DAY) == 2
    assert refresh_hourly(loaded, FIRST_DAY) == 1
    for day in (LAST_DAY, FIRST_DAY):
        assert hourly_mismatches(loaded, *day_bounds(day)) == []
    rows = {
        (websdr_id, bucket): rest
        for websdr_id, bucket, *rest in loaded.execute(
            "SELECT websdr_id, bucket, measurement_count, snr_avg_db, snr_min_db, snr_max_db, snr_p50_db, snr_p95_db,"
            " power_avg_dbm, offset_avg_hz, offset_min_hz, offset_max_hz, offset_stddev_hz FROM measurements_hourly"
        ).fetchall()
    }
    top = rows[(1, datetime(2099, 12, 31, 23, tzinfo=UTC))]
    assert top[:6] == [2, 0.0, SNR_LOW, SNR_HIGH, 0.0, SNR_LOW + 0.95 * (SNR_HIGH - SNR_LOW)]
    assert top[6] == (POWER_LOW + POWER_HIGH) / 2
    assert top[7:10] == [0.0, -OFFSET, OFFSET]
    assert top[10] == pytest.approx(statistics.stdev([-OFFSET, OFFSET]), rel=1e-12)
    flat = rows[(2, datetime(2099, 12, 31, 0, tzinfo=UTC))]
    assert flat == [3, SNR_HIGH, SNR_HIGH, SNR_HIGH, SNR_HIGH, SNR_HIGH, POWER_HIGH, OFFSET, OFFSET, OFFSET, 0.0]
    first = rows[(3, datetime(2000, 1, 1, tzinfo=UTC))]
    assert first[0] == 1 and first[10] is None  # one sample has no standard deviation


def test_the_five_reports_run_on_the_extremes(loaded):
    refresh_hourly(loaded, LAST_DAY)
    refresh_hourly(loaded, FIRST_DAY)
    end = datetime(2100, 1, 1, tzinfo=UTC)
    reports = {name: build_report(loaded, name, end, 24) for name in REPORTS}
    for report in reports.values():
        assert report.png.startswith(b"\x89PNG")

    trends = reports["snr_trends"].rows.set_index(["websdr_id", "hour"])
    top = trends.loc[(1, datetime(2099, 12, 31, 23, tzinfo=UTC))]
    assert (top["measurement_count"], top["snr_avg_db"]) == (2, 0.0)
    assert top["snr_p95_db"] == pytest.approx(SNR_LOW + 0.95 * (SNR_HIGH - SNR_LOW))

    drift = reports["frequency_drift"].summary.set_index("websdr_id")
    times = [datetime(2099, 12, 31, 23, tzinfo=UTC), datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)]
    expected_slope = (OFFSET - -OFFSET) / (_hours(times[1]) - _hours(times[0]))
    assert drift.loc[1, "drift_hz_per_hour"] == pytest.approx(expected_slope, rel=1e-6)
    assert drift.loc[1, "drift_r2"] == pytest.approx(1.0)
    assert drift.loc[2, "drift_hz_per_hour"] == 0.0

    performance = reports["receiver_performance"].rows.set_index("websdr_id")
    assert performance.loc[1, "measurement_count"] == 2
    assert (performance.loc[1, "snr_avg_db"], performance.loc[1, "snr_min_db"], performance.loc[1, "snr_max_db"]) == (
        0.0,
        SNR_LOW,
        SNR_HIGH,
    )
    assert performance.loc[2, "offset_avg_hz"] == OFFSET
    assert performance.loc[1, "session_share_pct"] == pytest.approx(100 * 2 / 5)

    coverage = reports["coverage"].rows.set_index("websdr_id")
    assert (coverage.loc[1, "hours_with_data"], coverage.loc[2, "hours_with_data"]) == (1, 1)
    assert (coverage.loc[1, "count_other"], coverage.loc[2, "count_other"]) == (2, 3)

    recent = reports["recent_measurements"].rows.set_index("websdr_id")
    assert recent.loc[1, "latest_snr_db"] == SNR_HIGH
    assert recent.loc[1, "last_seen"] == times[1]
    assert recent.loc[1, "power_avg_dbm"] == (POWER_LOW + POWER_HIGH) / 2

    # The first accepted instant, in a window of its own.
    first = build_report(loaded, "receiver_performance", datetime(2000, 1, 1, 1, tzinfo=UTC), 1)
    row = first.rows.set_index("websdr_id").loc[3]
    assert (row["measurement_count"], row["snr_avg_db"], row["offset_avg_hz"]) == (1, SNR_LOW, -OFFSET)


def test_the_checks_queries_run_on_the_extremes(loaded):
    start, end = day_bounds(UPLOADED.date())
    rows = partition_rows(loaded, start, end, PLAUSIBLE_SNR_RANGE_DB)
    # Uploaded on one day, measured on others: every row is the upload day's through its object.
    assert (rows.measurements, rows.measured_on_day, rows.measured_on_other_days) == (len(EXTREMES), 0, len(EXTREMES))
    assert (rows.snr_out_of_range, rows.min_snr_db, rows.max_snr_db) == (len(EXTREMES), SNR_LOW, SNR_HIGH)
    # Every |offset| of 1e8 Hz is beyond ±rate/2 for every rate here, 100,000 kHz included (5e7 Hz).
    assert (rows.offset_out_of_range, rows.max_abs_offset_hz) == (len(EXTREMES), OFFSET)
    counts = {c.websdr_id: c.measurements for c in receiver_counts(loaded, start, end)}
    # The row of 2000 is id 3 of the seed's numbering, Torino's: counted under Torino's id of the day, 7.
    assert (counts[1], counts[2], counts[7], counts[3], counts[4]) == (2, 3, 1, 0, 0)
