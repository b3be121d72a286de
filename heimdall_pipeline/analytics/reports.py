"""The five reports: run a query from `sql/analytics/reports/`, shape a table, draw a PNG, write both to S3.

Every report covers a window of whole UTC hours [start, end): the end is the given time rounded
up to the next full hour (the hour in progress is included), the start `hours` before it.
Output: `s3://<reports bucket>/reports/<report>/<YYYY-MM-DD>/<report>.csv|png`, the date being
the UTC day of the given end time (a later run on the same day replaces that day's files).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import matplotlib

matplotlib.use("Agg")  # no display: render to PNG bytes only

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import psycopg

from heimdall_pipeline.core.db import column_names, read_sql

MARKDOWN_ROWS = 40
HOUR = timedelta(hours=1)
# Which SNR the SNR reports show: recomputed from the IQ recordings (iq_metrics) where a recording
# was computed, Heimdall's stored snr_db elsewhere; or Heimdall's stored snr_db everywhere.
RECOMPUTED, STORED = "recomputed", "stored"
SNR_SOURCES = (RECOMPUTED, STORED)
DEFAULT_SNR_SOURCE = RECOMPUTED
SNR_REPORTS = frozenset({"snr_trends", "receiver_performance", "recent_measurements"})


@dataclass(frozen=True)
class ReportWindow:
    start: datetime
    end: datetime

    @classmethod
    def ending(cls, end: datetime, hours: int) -> ReportWindow:
        """`hours` whole UTC hours ending with the hour that contains `end`."""
        if end.tzinfo is None:
            raise ValueError("the report end time must be timezone-aware")
        end = end.astimezone(UTC)
        floor = end.replace(minute=0, second=0, microsecond=0)
        aligned_end = floor if floor == end else floor + HOUR
        return cls(aligned_end - hours * HOUR, aligned_end)

    @property
    def hours(self) -> int:
        return int((self.end - self.start) / HOUR)

    def params(self, snr_source: str = DEFAULT_SNR_SOURCE) -> dict[str, datetime | str]:
        return {"window_start": self.start, "window_end": self.end, "snr_source": snr_source}


@dataclass(frozen=True)
class SnrSource:
    """Which SNR a report shows, and how many of its measurements had a recomputed one."""

    choice: str  # RECOMPUTED or STORED
    measurements: int
    recomputed: int  # measurements with a computed recording (their SNR is the recomputed one)
    no_signal: int  # of those, recordings with no signal (no SNR)

    def describe(self) -> str:
        if self.choice == STORED:
            return f"stored: Heimdall's snr_db for all {self.measurements} measurements"
        return (
            f"recomputed from the IQ recordings for {self.recomputed} of {self.measurements} measurements "
            f"({self.no_signal} of them without a signal, so without an SNR); Heimdall's stored snr_db for the other "
            f"{self.measurements - self.recomputed}"
        )


@dataclass(frozen=True)
class Report:
    name: str
    window: ReportWindow
    day: str  # YYYY-MM-DD: the folder under reports/<name>/
    rows: pd.DataFrame  # the CSV: every row of the query
    summary: pd.DataFrame  # the markdown table shown in the UI
    png: bytes
    snr_source: SnrSource | None = None  # the SNR reports only

    @property
    def csv_key(self) -> str:
        return f"reports/{self.name}/{self.day}/{self.name}.csv"

    @property
    def png_key(self) -> str:
        return f"reports/{self.name}/{self.day}/{self.name}.png"

    def csv_bytes(self) -> bytes:
        return spreadsheet_safe_csv(self.rows, date_format="%Y-%m-%dT%H:%M:%SZ")

    def markdown(self) -> str:
        return markdown_table(self.summary)

    def png_markdown(self) -> str:
        """The plot as a markdown image with a data URI: it shows in the Dagster UI as is."""
        return f"![{self.name}](data:image/png;base64,{base64.b64encode(self.png).decode('ascii')})"


# A cell starting with one of these is a formula to a spreadsheet (=cmd|' /C calc'!A0): a station
# name from the receiver list could be one. OWASP's advice: prefix such text with a quote.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe_csv(frame: pd.DataFrame, date_format: str) -> bytes:
    """The frame as CSV, every text cell that a spreadsheet would run as a formula quoted with '."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(lambda v: "'" + v if isinstance(v, str) and v.startswith(_FORMULA_START) else v)
    return safe.to_csv(index=False, date_format=date_format).encode("utf-8")


def run_query(conn: psycopg.Connection, name: str, window: ReportWindow, snr_source: str = DEFAULT_SNR_SOURCE) -> pd.DataFrame:
    """`sql/analytics/reports/<name>.sql` over the window, as a frame (timestamps in UTC)."""
    with conn.transaction(), conn.cursor() as cur:
        # Returned timestamptz values follow the session time zone; reports speak UTC.
        cur.execute("SET LOCAL TIME ZONE 'UTC'")
        cur.execute(read_sql(f"analytics/reports/{name}.sql"), window.params(snr_source))
        columns = column_names(cur)
        return pd.DataFrame(cur.fetchall(), columns=columns)


def markdown_table(frame: pd.DataFrame, max_rows: int = MARKDOWN_ROWS) -> str:
    if frame.empty:
        return "_no rows in the window_"
    shown = frame.head(max_rows)
    text = shown.to_markdown(index=False, floatfmt=".2f")
    if len(frame) > max_rows:
        text += f"\n\n_first {max_rows} of {len(frame)} rows; the CSV has all of them_"
    return text


def build_report(conn: psycopg.Connection, name: str, end: datetime, hours: int, snr_source: str = DEFAULT_SNR_SOURCE) -> Report:
    """`snr_source` (RECOMPUTED or STORED) applies to the SNR reports (SNR_REPORTS)."""
    if snr_source not in SNR_SOURCES:
        raise ValueError(f"snr_source must be one of {', '.join(SNR_SOURCES)}, not {snr_source!r}")
    window = ReportWindow.ending(end, hours)
    day = end.astimezone(UTC).date().isoformat()
    spec = REPORTS[name]
    rows = run_query(conn, name, window, snr_source)
    source = None
    if name in SNR_REPORTS:
        counts = run_query(conn, "snr_source_counts", window).iloc[0]
        recomputed = int(counts["recomputed"]) if snr_source == RECOMPUTED else 0
        no_signal = int(counts["no_signal"]) if snr_source == RECOMPUTED else 0
        source = SnrSource(snr_source, int(counts["measurements"]), recomputed, no_signal)
    return Report(name, window, day, rows, spec.summarise(rows), spec.plot(conn, window, rows), source)


def publish(s3, bucket: str, report: Report) -> None:
    """Write the report's CSV and PNG to S3."""
    s3.put_object(Bucket=bucket, Key=report.csv_key, Body=report.csv_bytes(), ContentType="text/csv")
    s3.put_object(Bucket=bucket, Key=report.png_key, Body=report.png, ContentType="image/png")


# SigV4 presigned URLs live at most 7 days; a report is refreshed hourly, so its newest links
# always work, and an old run's links stop working a week later instead of leaking forever.
REPORT_LINK_SECONDS = 7 * 24 * 3600


def presigned_link(s3, bucket: str, key: str, expires_seconds: int = REPORT_LINK_SECONDS) -> str:
    """A URL that opens the object without credentials until it expires (the bucket stays private)."""
    return s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_seconds)


# --- per report: the summary shown in the UI and the plot ------------------------------------


# A receiver in a report is a station (`station_key`), not an id: Heimdall renumbers its receivers
# when one is deactivated, so one id can mean two stations in a window and one station two ids.
# The queries name each row by the station that had its id at the measurement's time.


def _ids_in_order(ids: pd.Series) -> str:
    """The ids a station had, in time order without repeats: "4, 3" for a station renumbered."""
    return ", ".join(str(websdr_id) for websdr_id in dict.fromkeys(ids.tolist()))


def _by_station(rows: pd.DataFrame, keys: list[str], **aggregations) -> pd.DataFrame:
    """Per station (and `keys`), time-ordered rows aggregated; the station shown with its last id and
    name in the window and every id it had, ordered by that last id."""
    ordered = rows.sort_values("hour", kind="stable")
    summary = ordered.groupby(["station_key", *keys], as_index=False, sort=False).agg(
        websdr_id=("websdr_id", "last"),
        receiver=("receiver", "last"),
        websdr_ids=("websdr_id", _ids_in_order),
        **aggregations,
    )
    columns = ["websdr_id", "receiver", "websdr_ids", *keys, *aggregations]
    return summary.sort_values(["websdr_id", "receiver", *keys], kind="stable")[columns].reset_index(drop=True)


def _station_series(rows: pd.DataFrame):
    """(receiver name, the station's rows) per station, ordered by its last id in the window."""
    order = (
        rows.sort_values("hour", kind="stable")
        .groupby("station_key", sort=False)
        .agg(websdr_id=("websdr_id", "last"), receiver=("receiver", "last"))
        .sort_values(["websdr_id", "receiver"])
    )
    for station_key, last in order.iterrows():
        yield last["receiver"], rows[rows["station_key"] == station_key]


def snr_trends_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """Per receiver over the window: hours heard, the mean of its hourly averages, extremes."""
    if rows.empty:
        return rows
    return _by_station(
        rows,
        [],
        hours=("hour", "nunique"),
        measurements=("measurement_count", "sum"),
        hourly_snr_avg_db=("snr_avg_db", "mean"),
        lowest_hour_snr_avg_db=("snr_avg_db", "min"),
        highest_hour_snr_p95_db=("snr_p95_db", "max"),
    )


def snr_trends_plot(conn: psycopg.Connection, window: ReportWindow, rows: pd.DataFrame) -> bytes:
    fig, (avg_axes, p95_axes) = plt.subplots(2, 1, figsize=(11, 7), sharex=True)
    for receiver, series in _station_series(rows):
        avg_axes.plot(series["hour"], series["snr_avg_db"], marker=".", label=receiver)
        p95_axes.plot(series["hour"], series["snr_p95_db"], marker=".", label=receiver)
    avg_axes.set_ylabel("average SNR (dB)")
    p95_axes.set_ylabel("p95 SNR (dB)")
    p95_axes.set_xlabel("hour (UTC)")
    _legend(avg_axes)
    fig.suptitle(_title("SNR per receiver per hour", window))
    return _png(fig)


def frequency_drift_summary(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per receiver and frequency: the fit (the CSV repeats it on each hour)."""
    if rows.empty:
        return rows
    return _by_station(
        rows,
        ["frequency_mhz"],
        hours=("hour", "nunique"),
        fit_samples=("fit_samples", "first"),
        offset_avg_hz=("offset_avg_hz", "mean"),
        drift_hz_per_hour=("drift_hz_per_hour", "first"),
        drift_r2=("drift_r2", "first"),
    )


def frequency_drift_plot(conn: psycopg.Connection, window: ReportWindow, rows: pd.DataFrame) -> bytes:
    receivers = list(_station_series(rows)) or [("no data", rows)]
    fig, axes = plt.subplots(len(receivers), 1, figsize=(11, 1.8 * len(receivers) + 1), sharex=True, squeeze=False)
    for axis, (receiver, station_rows) in zip(axes[:, 0], receivers):
        for frequency, series in station_rows.groupby("frequency_mhz"):
            drift = series["drift_hz_per_hour"].iloc[0]
            label = f"{frequency:g} MHz" + ("" if pd.isna(drift) else f" ({drift:+.2f} Hz/h)")
            axis.plot(series["hour"], series["offset_avg_hz"], marker=".", linewidth=1, label=label)
        axis.set_ylabel(f"{receiver}\noffset (Hz)", fontsize=8)
        _legend(axis, fontsize=6)
    axes[-1, 0].set_xlabel("hour (UTC)")
    fig.suptitle(_title("Frequency offset per hour and fitted drift", window))
    return _png(fig)


def receiver_performance_plot(conn: psycopg.Connection, window: ReportWindow, rows: pd.DataFrame) -> bytes:
    fig, (snr_axes, share_axes) = plt.subplots(1, 2, figsize=(12, 4.5))
    names = rows["receiver"]
    average = rows["snr_avg_db"].astype(float)
    spread = np.vstack([average - rows["snr_min_db"].astype(float), rows["snr_max_db"].astype(float) - average])
    snr_axes.barh(names, average.fillna(0), xerr=np.nan_to_num(spread), capsize=3, color="tab:blue")
    snr_axes.set_xlabel("SNR (dB): average, whiskers min–max")
    snr_axes.invert_yaxis()
    share_axes.barh(names, rows["session_share_pct"].astype(float).fillna(0), color="tab:green")
    share_axes.set_xlabel("sessions taken part in (%)")
    share_axes.set_xlim(0, 100)
    share_axes.invert_yaxis()
    share_axes.set_yticklabels([])
    fig.suptitle(_title("Receiver performance", window))
    return _png(fig)


def coverage_heatmap(conn: psycopg.Connection, window: ReportWindow, station_keys: list[str]) -> pd.DataFrame:
    """Measurements per receiver (rows, by station_key) and hour of the window (columns), zeros
    where silent; each measurement counted for the station that had its id at its time."""
    hours = pd.date_range(window.start, window.end, freq="h", inclusive="left")
    grid = pd.DataFrame(0, index=station_keys, columns=hours, dtype="int64")
    for station_key, hour, count in run_query(conn, "coverage_heatmap", window).itertuples(index=False):
        if station_key in grid.index:
            grid.loc[station_key, pd.Timestamp(hour)] = count
    return grid


def coverage_plot(conn: psycopg.Connection, window: ReportWindow, rows: pd.DataFrame) -> bytes:
    grid = coverage_heatmap(conn, window, rows["station_key"].tolist())
    fig, axis = plt.subplots(figsize=(12, 0.45 * max(len(grid), 1) + 2))
    image = axis.imshow(grid.to_numpy(), aspect="auto", cmap="viridis", interpolation="nearest")
    axis.set_yticks(range(len(grid)), rows["receiver"].tolist())
    ticks = np.linspace(0, len(grid.columns) - 1, num=min(len(grid.columns), 8)).round().astype(int)
    axis.set_xticks(ticks, [grid.columns[i].strftime("%m-%d %H:00") for i in ticks], fontsize=7)
    axis.set_xlabel("hour of window (UTC)")
    fig.colorbar(image, ax=axis, label="measurements")
    fig.suptitle(_title("Coverage: measurements per receiver per hour", window))
    return _png(fig)


def recent_measurements_plot(conn: psycopg.Connection, window: ReportWindow, rows: pd.DataFrame) -> bytes:
    fig, (count_axes, snr_axes) = plt.subplots(1, 2, figsize=(12, 4.5))
    names = rows["receiver"]
    count_axes.barh(names, rows["measurement_count"], color="tab:blue")
    count_axes.set_xlabel("measurements")
    count_axes.invert_yaxis()
    snr_axes.barh(names, rows["snr_avg_db"].astype(float).fillna(0), color="tab:orange", label="average")
    heard = rows[rows["latest_snr_db"].notna()]
    snr_axes.scatter(heard["latest_snr_db"].astype(float), heard["receiver"], color="black", zorder=3, label="latest")
    snr_axes.set_xlabel("SNR (dB)")
    snr_axes.set_yticklabels([])
    snr_axes.legend(fontsize=7)
    fig.suptitle(_title("Recent measurements per receiver", window))
    return _png(fig)


def _as_is(rows: pd.DataFrame) -> pd.DataFrame:
    return rows


@dataclass(frozen=True)
class ReportSpec:
    summarise: Callable[[pd.DataFrame], pd.DataFrame]
    plot: Callable[[psycopg.Connection, ReportWindow, pd.DataFrame], bytes]


REPORTS: dict[str, ReportSpec] = {
    "snr_trends": ReportSpec(snr_trends_summary, snr_trends_plot),
    "frequency_drift": ReportSpec(frequency_drift_summary, frequency_drift_plot),
    "receiver_performance": ReportSpec(_as_is, receiver_performance_plot),
    "coverage": ReportSpec(_as_is, coverage_plot),
    "recent_measurements": ReportSpec(_as_is, recent_measurements_plot),
}


def _title(what: str, window: ReportWindow) -> str:
    return f"{what}\n{window.start:%Y-%m-%d %H:%M} – {window.end:%Y-%m-%d %H:%M} UTC"


def _legend(axis, fontsize: int = 7) -> None:
    if axis.get_legend_handles_labels()[0]:
        axis.legend(fontsize=fontsize, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    else:
        axis.text(0.5, 0.5, "no data in the window", ha="center", va="center", transform=axis.transAxes)


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()
