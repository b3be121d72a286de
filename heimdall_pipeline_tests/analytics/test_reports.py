"""The five reports on a hand-built dataset with known answers; plots and S3 output."""

from __future__ import annotations

import io
from datetime import date

import matplotlib.image
import pandas as pd
import pytest

from heimdall_pipeline.analytics.aggregates import refresh_hourly
from heimdall_pipeline.analytics.reports import REPORTS, ReportWindow, build_report, coverage_heatmap, publish
from heimdall_pipeline.ingest.loader import load_measurements
from heimdall_pipeline_tests.measurement_rows import measurement, utc

END = utc(2025, 3, 10, 12)
HOURS = 6  # window [06:00, 12:00)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def hand_built_rows():
    rows = [
        measurement("s0", 1, utc(2025, 3, 10, 5, 59, 59, 999_999), 99.0, 9.0),  # before the window
        measurement("s4", 1, utc(2025, 3, 10, 12), 99.0, 9.0),  # the window's end is exclusive
        # s1: every receiver, 2 m.
        *(measurement("s1", r, utc(2025, 3, 10, 6, 10), 10.0 * r, float(r)) for r in range(1, 8)),
        # 70 cm: receiver 1 drifts +1 Hz/h over three sessions; 2 and 3 hear one of them.
        measurement("s5", 1, utc(2025, 3, 10, 6, 30), 20.0, 2.0, frequency_mhz=432.1),
        measurement("s2", 1, utc(2025, 3, 10, 7, 30), 14.0, 3.0, frequency_mhz=432.1),
        measurement("s2", 2, utc(2025, 3, 10, 7, 30), 8.0, -4.0, frequency_mhz=432.1),
        measurement("s2", 3, utc(2025, 3, 10, 7, 30), 30.0, 0.0, frequency_mhz=432.1),
        measurement("s6", 1, utc(2025, 3, 10, 8, 30), 16.0, 4.0, frequency_mhz=432.1),
        # Outside both bands.
        measurement("s3", 1, utc(2025, 3, 10, 9, 45), 12.0, 5.0, frequency_mhz=100.0),
    ]
    return rows


@pytest.fixture
def loaded(db):
    load_measurements(db, hand_built_rows())
    refresh_hourly(db, date(2025, 3, 10))
    return db


def by(frame: pd.DataFrame, **where) -> dict:
    match = frame
    for column, value in where.items():
        match = match[match[column] == value]
    assert len(match) == 1, where
    return match.iloc[0].to_dict()


def test_window_is_whole_hours_ending_with_the_hour_in_progress():
    assert ReportWindow.ending(END, 6) == ReportWindow(utc(2025, 3, 10, 6), END)
    assert ReportWindow.ending(utc(2025, 3, 10, 11, 15), 6) == ReportWindow(utc(2025, 3, 10, 6), END)
    assert ReportWindow.ending(END, 168).hours == 168


def test_snr_trends(loaded):
    rows = build_report(loaded, "snr_trends", END, HOURS).rows
    assert len(rows) == 12
    six = by(rows, hour=utc(2025, 3, 10, 6), websdr_id=1)
    # Two frequencies in one hour: the p95 is over both rows, 10 + 0.95 * (20 - 10).
    assert (six["receiver"], six["measurement_count"], six["snr_avg_db"]) == ("Aquila di Giaveno", 2, 15.0)
    assert six["snr_p95_db"] == pytest.approx(19.5)
    assert by(rows, hour=utc(2025, 3, 10, 6), websdr_id=7)["snr_avg_db"] == 70.0
    assert by(rows, hour=utc(2025, 3, 10, 7), websdr_id=2)["snr_p95_db"] == 8.0
    assert by(rows, hour=utc(2025, 3, 10, 9), websdr_id=1)["snr_avg_db"] == 12.0
    assert 99.0 not in rows["snr_avg_db"].tolist()


def test_frequency_drift(loaded):
    report = build_report(loaded, "frequency_drift", END, HOURS)
    assert len(report.rows) == 13  # hourly groups in the window
    fit = by(report.summary, websdr_id=1, frequency_mhz=432.1)
    assert fit["drift_hz_per_hour"] == pytest.approx(1.0)
    assert fit["drift_r2"] == pytest.approx(1.0)
    assert (fit["hours"], fit["fit_samples"], fit["offset_avg_hz"]) == (3, 3, 3.0)
    series = report.rows[(report.rows["websdr_id"] == 1) & (report.rows["frequency_mhz"] == 432.1)]
    assert series["offset_avg_hz"].tolist() == [2.0, 3.0, 4.0]
    # One point fits no line.
    assert pd.isna(by(report.summary, websdr_id=2, frequency_mhz=432.1)["drift_hz_per_hour"])


def test_receiver_performance(loaded):
    rows = build_report(loaded, "receiver_performance", END, HOURS).rows
    assert rows["receiver"].tolist()[:2] == ["Aquila di Giaveno", "Montanaro"]
    one = by(rows, websdr_id=1)
    assert (one["measurement_count"], one["snr_min_db"], one["snr_max_db"]) == (5, 10.0, 20.0)
    assert one["snr_avg_db"] == pytest.approx(14.4)
    assert one["offset_avg_hz"] == pytest.approx(3.0)
    assert (one["sessions"], one["sessions_in_window"], one["session_share_pct"]) == (5, 5, 100.0)
    two = by(rows, websdr_id=2)
    assert (two["measurement_count"], two["snr_avg_db"], two["offset_avg_hz"]) == (2, 14.0, -1.0)
    assert two["session_share_pct"] == pytest.approx(40.0)
    assert by(rows, websdr_id=7)["session_share_pct"] == pytest.approx(20.0)


def test_coverage(loaded):
    report = build_report(loaded, "coverage", END, HOURS)
    rows = report.rows
    assert len(rows) == 7
    one = by(rows, websdr_id=1)
    assert (one["hours_with_data"], one["hours_in_window"]) == (4, 6.0)
    assert one["uptime_pct"] == pytest.approx(100 * 4 / 6)
    assert (one["count_2m"], one["count_70cm"], one["count_other"]) == (1, 3, 1)
    assert (one["sessions"], one["sessions_in_window"], one["sessions_all_reported"]) == (5, 5, 1)
    two = by(rows, websdr_id=2)
    assert (two["hours_with_data"], two["count_2m"], two["count_70cm"], two["count_other"]) == (2, 1, 1, 0)
    assert by(rows, websdr_id=5)["uptime_pct"] == pytest.approx(100 / 6)

    grid = coverage_heatmap(loaded, report.window, rows["station_key"].tolist())
    assert grid.shape == (7, 6)
    assert grid.loc["aquila-di-giaveno"].tolist() == [2, 1, 1, 1, 0, 0]
    assert grid.loc["coazze"].tolist() == [1, 0, 0, 0, 0, 0]


def test_recent_measurements(loaded):
    report = build_report(loaded, "recent_measurements", END, 24)
    one = by(report.rows, websdr_id=1)
    assert (one["measurement_count"], one["sessions"]) == (6, 6)  # s0 is in the last 24 h, s4 is not
    assert one["first_seen"] == utc(2025, 3, 10, 5, 59, 59, 999_999)
    assert one["last_seen"] == utc(2025, 3, 10, 9, 45)
    assert (one["latest_snr_db"], one["snr_avg_db"]) == (12.0, 28.5)
    assert one["frequencies_mhz"] == "100 145.5 432.1"
    silent = by(report.rows, websdr_id=4)
    assert silent["measurement_count"] == 1 and silent["last_seen"] == utc(2025, 3, 10, 6, 10)


def assert_real_png(png: bytes) -> None:
    assert png.startswith(PNG_SIGNATURE)
    image = matplotlib.image.imread(io.BytesIO(png), format="png")
    assert image.shape[0] > 200 and image.shape[1] > 400
    assert image[..., :3].std() > 0.01  # more than a blank canvas


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_each_report_lands_in_s3_as_csv_and_png(loaded, s3, bucket, name):
    report = build_report(loaded, name, END, HOURS)
    assert_real_png(report.png)
    assert report.markdown().startswith("|")
    assert report.png_markdown().startswith(f"![{name}](data:image/png;base64,iVBORw0KGgo")
    publish(s3, bucket, report)

    assert report.csv_key == f"reports/{name}/2025-03-10/{name}.csv"
    csv = pd.read_csv(io.BytesIO(s3.get_object(Bucket=bucket, Key=report.csv_key)["Body"].read()))
    assert list(csv.columns) == list(report.rows.columns)
    assert len(csv) == len(report.rows) > 0
    assert s3.get_object(Bucket=bucket, Key=f"reports/{name}/2025-03-10/{name}.png")["Body"].read() == report.png


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_empty_window_still_reports(db, name):
    report = build_report(db, name, utc(2030, 1, 1), 24)
    assert_real_png(report.png)
    expect_rows = 0 if name in ("snr_trends", "frequency_drift") else 7  # per-receiver reports list every station
    assert len(report.rows) == expect_rows


def _recomputed(db, task_id: str, websdr_id: int, snr_db, status: str = "computed") -> None:
    """An iq_metrics row for a hand-built measurement (its SNR recomputed, or not computed)."""
    db.execute(
        "INSERT INTO iq_metrics (task_id, websdr_id, timestamp_utc, status, reason, snr_db, no_signal, samples_count, "
        "algorithm_version) SELECT task_id, websdr_id, timestamp_utc, %s, %s, %s, %s, samples_count, 1 "
        "FROM measurements WHERE task_id = %s AND websdr_id = %s",
        (
            status,
            None if status == "computed" else "truncated: test",
            snr_db,
            (snr_db is None) if status == "computed" else None,
            task_id,
            websdr_id,
        ),
    )


def test_snr_reports_show_the_recomputed_snr_where_there_is_one_unless_told_stored(loaded):
    _recomputed(loaded, "s5", 1, 40.0)  # 6:30, stored 20
    _recomputed(loaded, "s1", 1, None)  # 6:10, stored 10: the recording holds no signal
    _recomputed(loaded, "s2", 1, 1.0, status="rejected")  # 7:30, stored 14: not computed, stored stays

    recomputed = build_report(loaded, "snr_trends", END, HOURS)
    stored = build_report(loaded, "snr_trends", END, HOURS, snr_source="stored")

    six = by(recomputed.rows, hour=utc(2025, 3, 10, 6), websdr_id=1)
    assert (six["measurement_count"], six["snr_avg_db"]) == (2, 40.0)  # no signal: no SNR, not the stored 10
    assert by(recomputed.rows, hour=utc(2025, 3, 10, 7), websdr_id=1)["snr_avg_db"] == 14.0
    assert by(stored.rows, hour=utc(2025, 3, 10, 6), websdr_id=1)["snr_avg_db"] == 15.0
    assert (recomputed.snr_source.choice, recomputed.snr_source.recomputed, recomputed.snr_source.no_signal) == (
        "recomputed",
        2,
        1,
    )
    assert recomputed.snr_source.measurements == 13
    assert "for 2 of 13 measurements" in recomputed.snr_source.describe()
    assert (stored.snr_source.choice, stored.snr_source.recomputed) == ("stored", 0)

    performance = by(build_report(loaded, "receiver_performance", END, HOURS).rows, websdr_id=1)
    assert (performance["snr_min_db"], performance["snr_max_db"]) == (12.0, 40.0)  # 14, 16, 12 stored; 40 recomputed
    recent = by(build_report(loaded, "recent_measurements", END, 24, snr_source="stored").rows, websdr_id=1)
    assert recent["snr_max_db"] == 99.0
    assert build_report(loaded, "coverage", END, HOURS).snr_source is None
    with pytest.raises(ValueError, match="snr_source"):
        build_report(loaded, "snr_trends", END, HOURS, snr_source="heimdall")


def test_a_station_name_that_is_a_formula_is_quoted_in_every_csv():
    """A station named =cmd|' /C calc'!A0 reached receiver_performance's CSV verbatim: a spreadsheet runs it."""
    import csv
    import io

    import pandas as pd

    from heimdall_pipeline.analytics.reports import spreadsheet_safe_csv

    frame = pd.DataFrame(
        {"station": ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "Torino"], "snr_db": [1.0, -2.5, 3.0, 4.0, 5.0]}
    )
    rows = list(csv.DictReader(io.StringIO(spreadsheet_safe_csv(frame, "%Y").decode())))
    assert [r["station"] for r in rows] == ["'=cmd|' /C calc'!A0", "'+1", "'-2", "'@SUM(A1)", "Torino"]
    assert [r["snr_db"] for r in rows] == ["1.0", "-2.5", "3.0", "4.0", "5.0"]  # numbers stay numbers
