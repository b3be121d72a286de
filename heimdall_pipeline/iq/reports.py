"""Heimdall's stored metrics beside the recomputed ones, and the iq_metrics asset's plot.

For the measurements of one upload day whose recordings were computed: per receiver, stored SNR
against recomputed SNR and stored frequency offset against recomputed offset (scatter plots with
the identity line), with the mean difference (stored − recomputed) and Pearson's correlation.

A measurement *disagrees* when both SNRs exist and differ by more than SNR_TOLERANCE_DB, when both
offsets exist and differ by more than OFFSET_TOLERANCE_HZ, or when the recording holds no signal
while Heimdall stored an SNR above NO_SIGNAL_CLAIM_DB (a signal it claims and we cannot find).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import psycopg

from heimdall_pipeline.analytics.reports import _png, markdown_table
from heimdall_pipeline.core.db import column_names, read_sql
from heimdall_pipeline.ingest.checks import CheckOutcome, Markdown, Severity

COMPARISON_REPORT = "heimdall_vs_recomputed_metrics"
SNR_TOLERANCE_DB = 3.0
OFFSET_TOLERANCE_HZ = 10.0
NO_SIGNAL_CLAIM_DB = 6.0
# The check warns when more than this share of the compared measurements disagree.
TOLERATED_DISAGREEING_SHARE = 0.05


def comparison_rows(conn: psycopg.Connection, start, end) -> pd.DataFrame:
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET LOCAL TIME ZONE 'UTC'")
        cur.execute(read_sql("iq/heimdall_vs_recomputed.sql"), {"start": start, "end": end})
        frame = pd.DataFrame(cur.fetchall(), columns=column_names(cur))
    for column in ("stored_snr_db", "recomputed_snr_db", "stored_offset_hz", "recomputed_offset_hz"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    frame["snr_diff_db"] = frame["stored_snr_db"] - frame["recomputed_snr_db"]
    frame["offset_diff_hz"] = frame["stored_offset_hz"] - frame["recomputed_offset_hz"]
    frame["disagrees"] = (
        (frame["snr_diff_db"].abs() > SNR_TOLERANCE_DB)
        | (frame["offset_diff_hz"].abs() > OFFSET_TOLERANCE_HZ)
        | (frame["no_signal"].astype(bool) & (frame["stored_snr_db"] > NO_SIGNAL_CLAIM_DB))
    )
    return frame


def _correlation(x: pd.Series, y: pd.Series) -> float | None:
    both = pd.concat([x, y], axis=1).dropna()
    if len(both) < 3 or both.iloc[:, 0].std() == 0 or both.iloc[:, 1].std() == 0:
        return None
    return float(np.corrcoef(both.iloc[:, 0], both.iloc[:, 1])[0, 1])


def per_receiver(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per receiver: compared counts, mean difference and correlation of SNR and offset."""
    columns = [
        "websdr_id",
        "receiver",
        "measurements",
        "no_signal",
        "snr_pairs",
        "snr_mean_diff_db",
        "snr_correlation",
        "offset_pairs",
        "offset_mean_diff_hz",
        "offset_correlation",
        "disagreeing",
    ]
    records = []
    for (websdr_id, receiver), group in rows.groupby(["websdr_id", "receiver"]):
        records.append(
            {
                "websdr_id": websdr_id,
                "receiver": receiver,
                "measurements": len(group),
                "no_signal": int(group["no_signal"].astype(bool).sum()),
                "snr_pairs": int(group["snr_diff_db"].notna().sum()),
                "snr_mean_diff_db": group["snr_diff_db"].mean(),
                "snr_correlation": _correlation(group["stored_snr_db"], group["recomputed_snr_db"]),
                "offset_pairs": int(group["offset_diff_hz"].notna().sum()),
                "offset_mean_diff_hz": group["offset_diff_hz"].mean(),
                "offset_correlation": _correlation(group["stored_offset_hz"], group["recomputed_offset_hz"]),
                "disagreeing": int(group["disagrees"].sum()),
            }
        )
    return pd.DataFrame.from_records(records, columns=columns)


@dataclass(frozen=True)
class Agreement:
    compared: int
    disagreeing: int
    snr_disagreeing: int
    offset_disagreeing: int
    no_signal_claimed: int

    @property
    def passed(self) -> bool:
        return self.disagreeing <= TOLERATED_DISAGREEING_SHARE * self.compared

    def describe(self) -> str:
        if not self.compared:
            return "no computed recording to compare"
        share = self.disagreeing / self.compared
        return (
            f"{self.disagreeing} of {self.compared} measurements ({share:.0%}) disagree: {self.snr_disagreeing} by SNR "
            f"(>{SNR_TOLERANCE_DB:g} dB), {self.offset_disagreeing} by offset (>{OFFSET_TOLERANCE_HZ:g} Hz), "
            f"{self.no_signal_claimed} with no signal where Heimdall stored >{NO_SIGNAL_CLAIM_DB:g} dB "
            f"(tolerated: {TOLERATED_DISAGREEING_SHARE:.0%})"
        )


def agreement(rows: pd.DataFrame) -> Agreement:
    if rows.empty:
        return Agreement(0, 0, 0, 0, 0)
    return Agreement(
        compared=len(rows),
        disagreeing=int(rows["disagrees"].sum()),
        snr_disagreeing=int((rows["snr_diff_db"].abs() > SNR_TOLERANCE_DB).sum()),
        offset_disagreeing=int((rows["offset_diff_hz"].abs() > OFFSET_TOLERANCE_HZ).sum()),
        no_signal_claimed=int((rows["no_signal"].astype(bool) & (rows["stored_snr_db"] > NO_SIGNAL_CLAIM_DB)).sum()),
    )


def agreement_outcome(conn: psycopg.Connection, start, end) -> CheckOutcome:
    """What the agreement check concludes for the upload window [start, end) (WARN), with counts
    per kind of disagreement and per receiver."""
    rows = comparison_rows(conn, start, end)
    found = agreement(rows)
    summary = per_receiver(rows)
    table = "\n".join(f"| {r.websdr_id} | {r.receiver} | {r.measurements} | {r.disagreeing} |" for r in summary.itertuples())
    return CheckOutcome(
        passed=found.passed,
        severity=Severity.WARN,
        description=found.describe(),
        metadata={
            "compared": found.compared,
            "disagreeing": found.disagreeing,
            "disagreeing by SNR": found.snr_disagreeing,
            "disagreeing by offset": found.offset_disagreeing,
            "no signal, Heimdall claims one": found.no_signal_claimed,
            "per receiver": Markdown(
                "| id | receiver | compared | disagreeing |\n|---|---|---:|---:|\n" + (table or "| | (none) | 0 | 0 |")
            ),
        },
    )


def _identity_scatter(axis, x: pd.Series, y: pd.Series, unit: str, no_signal: int = 0) -> None:
    both = pd.concat([x, y], axis=1).dropna()
    if both.empty:
        text = f"no signal in its {no_signal} recordings:\nnothing to compare" if no_signal else "nothing to compare"
        axis.text(0.5, 0.5, text, ha="center", va="center", transform=axis.transAxes)
        axis.set_xticks([])
        axis.set_yticks([])
        return
    axis.scatter(both.iloc[:, 0], both.iloc[:, 1], s=8, alpha=0.6)
    low = float(min(both.min()))
    high = float(max(both.max()))
    pad = max((high - low) * 0.05, 1.0)
    axis.plot([low - pad, high + pad], [low - pad, high + pad], color="grey", linewidth=1, linestyle="--", label="identity")
    axis.set_xlim(low - pad, high + pad)
    axis.set_ylim(low - pad, high + pad)
    axis.tick_params(labelsize=7)
    axis.set_xlabel(f"stored ({unit})", fontsize=7)
    axis.set_ylabel(f"recomputed ({unit})", fontsize=7)


def comparison_plot(rows: pd.DataFrame, day: date) -> bytes:
    receivers = list(rows.groupby(["websdr_id", "receiver"]).groups) or [(None, "no computed recordings")]
    fig, axes = plt.subplots(len(receivers), 2, figsize=(9, 2.4 * len(receivers) + 0.8), squeeze=False)
    for (snr_axis, offset_axis), (websdr_id, receiver) in zip(axes, receivers):
        group = rows[(rows["websdr_id"] == websdr_id) & (rows["receiver"] == receiver)]  # an id renumbered that day names two
        silent = int(group["no_signal"].astype(bool).sum()) if "no_signal" in group else 0
        _identity_scatter(
            snr_axis,
            group.get("stored_snr_db", pd.Series(dtype=float)),
            group.get("recomputed_snr_db", pd.Series(dtype=float)),
            "dB",
            silent,
        )
        _identity_scatter(
            offset_axis,
            group.get("stored_offset_hz", pd.Series(dtype=float)),
            group.get("recomputed_offset_hz", pd.Series(dtype=float)),
            "Hz",
            silent,
        )
        snr_axis.set_title(f"{receiver}: SNR", fontsize=8)
        offset_axis.set_title(f"{receiver}: frequency offset", fontsize=8)
    fig.suptitle(f"Heimdall's stored metrics vs recomputed from the IQ recordings\nuploads of {day} (UTC)")
    fig.tight_layout()
    return _png(fig)


def comparison_markdown(summary: pd.DataFrame) -> str:
    return markdown_table(summary)


def iq_metrics_plot(status_counts: dict[str, int], computed: list[tuple], day: date) -> bytes:
    """Recordings per status, and the recomputed SNR per receiver (box plot; no-signal ones apart)."""
    fig, (status_axis, snr_axis) = plt.subplots(1, 2, figsize=(11, 4), gridspec_kw={"width_ratios": [1, 2]})
    statuses = list(status_counts)
    status_axis.bar(
        statuses,
        [status_counts[s] for s in statuses],
        color=["tab:green", "tab:red", "tab:orange", "tab:purple", "tab:grey"][: len(statuses)],
    )
    status_axis.set_ylabel("recordings")
    status_axis.tick_params(axis="x", labelsize=8)
    by_receiver: dict[int, list[float]] = {}
    silent: dict[int, int] = {}
    for websdr_id, snr, _offset, no_signal in computed:
        if no_signal or snr is None or not math.isfinite(snr):
            silent[websdr_id] = silent.get(websdr_id, 0) + 1
        else:
            by_receiver.setdefault(websdr_id, []).append(float(snr))
    ids = sorted(set(by_receiver) | set(silent))
    if ids:
        snr_axis.boxplot([by_receiver.get(i, [np.nan]) for i in ids])
        # set_xticks, not boxplot's labels (renamed tick_labels in matplotlib 3.9; we allow 3.8).
        snr_axis.set_xticks(
            range(1, len(ids) + 1), [f"{i}" + (f"\n({silent[i]} no signal)" if silent.get(i) else "") for i in ids]
        )
        snr_axis.set_xlabel("receiver (websdr_id)")
        snr_axis.tick_params(axis="x", labelsize=7)
    else:
        snr_axis.text(0.5, 0.5, "no computed recordings", ha="center", va="center", transform=snr_axis.transAxes)
    snr_axis.set_ylabel("recomputed SNR (dB)")
    fig.suptitle(f"iq_metrics: recordings of the uploads of {day} (UTC)")
    return _png(fig)
