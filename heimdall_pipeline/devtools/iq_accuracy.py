"""Accuracy of iq_metrics against analytic truth on synthetic recordings (iq_synth).

`python -m heimdall_pipeline.devtools.iq_accuracy` prints the error table that docs/iq-metrics.md shows; the tests
(test_iq_accuracy.py) run the same grid and assert the goal of issue 11: SNR within 0.5 dB where
SNR >= 0 dB, offset within 1 Hz, no signal reported for noise only, clipping flagged.
"""

from __future__ import annotations

import argparse
import statistics
from dataclasses import dataclass

from heimdall_pipeline.devtools.iq_synth import band_in_noise, tone_in_noise
from heimdall_pipeline.iq.metrics import ALGORITHM_VERSION, compute_iq_metrics

RATE_HZ = 12_500.0
SAMPLES = 125_000
NOISE_DBFS = -60.0  # 40 dB SNR is then a -20 dBFS tone: no clipping anywhere in the grid
SNR_GRID_DB = (-5.0, -3.0, 0.0, 3.0, 6.0, 10.0, 15.0, 20.0, 30.0, 40.0)
# Near both band edges, at and near 0 Hz, and in between; all but 0 Hz off the 0.1 Hz bin centres
# (half a bin is the worst case for the interpolation).
OFFSETS_HZ = (-6_249.27, -6_000.05, -1_234.56, -0.45, 0.0, 0.37, 37.33, 3_125.71, 6_248.85)
SEEDS = (1, 2)
NOISE_ONLY_SEEDS = tuple(range(100, 120))
# Wideband signals without a carrier (FM-like), beyond the goal: (centre, bandwidth) in Hz,
# one wrapping past -fs/2, one filling 64 % of the band; SNR >= 0 dB (below it see docs/iq-metrics.md).
WIDEBAND_SIGNALS_HZ = ((20.0, 200.0), (-6_000.0, 1_000.0), (1_200.0, 3_000.0), (0.0, 8_000.0))
WIDEBAND_SNR_DB = (0.0, 3.0, 10.0, 20.0, 40.0)
SNR_GOAL_DB = 0.5  # where SNR >= 0 dB
OFFSET_GOAL_HZ = 1.0


@dataclass(frozen=True)
class GridPoint:
    snr_db: float
    offset_hz: float
    seed: int
    detected: bool
    snr_error_db: float | None
    offset_error_hz: float | None


@dataclass(frozen=True)
class SnrRow:
    snr_db: float
    recordings: int
    detected: int
    max_snr_error_db: float
    median_snr_error_db: float
    max_offset_error_hz: float
    median_offset_error_hz: float


def measure_grid(snrs=SNR_GRID_DB, offsets=OFFSETS_HZ, seeds=SEEDS) -> list[GridPoint]:
    points = []
    for snr in snrs:
        for offset in offsets:
            for seed in seeds:
                samples = tone_in_noise(SAMPLES, RATE_HZ, snr, offset, seed=seed, noise_dbfs=NOISE_DBFS)
                metrics = compute_iq_metrics(samples, RATE_HZ, expected_samples=SAMPLES)
                detected = not metrics.no_signal
                points.append(
                    GridPoint(
                        snr,
                        offset,
                        seed,
                        detected,
                        metrics.snr_db - snr if detected else None,
                        metrics.frequency_offset_hz - offset if detected else None,
                    )
                )
    return points


@dataclass(frozen=True)
class WidebandPoint:
    snr_db: float
    centre_hz: float
    bandwidth_hz: float
    detected: bool
    snr_error_db: float | None
    centre_error_hz: float | None
    bandwidth_error: float | None  # occupied bandwidth / (0.99 × bandwidth) - 1


def measure_wideband(snrs=WIDEBAND_SNR_DB, signals=WIDEBAND_SIGNALS_HZ, seeds=SEEDS) -> list[WidebandPoint]:
    points = []
    for snr in snrs:
        for centre, bandwidth in signals:
            for seed in seeds:
                samples = band_in_noise(SAMPLES, RATE_HZ, snr, centre, bandwidth, seed=seed, noise_dbfs=NOISE_DBFS)
                m = compute_iq_metrics(samples, RATE_HZ)
                found = not m.no_signal
                points.append(
                    WidebandPoint(
                        snr,
                        centre,
                        bandwidth,
                        found,
                        m.snr_db - snr if found else None,
                        m.frequency_offset_hz - centre if found else None,
                        m.occupied_bandwidth_hz / (0.99 * bandwidth) - 1 if found else None,
                    )
                )
    return points


def wideband_table(points: list[WidebandPoint]) -> str:
    lines = [
        "| bandwidth (Hz) | recordings | detected | max \\|SNR error\\| (dB) | median \\|SNR error\\| (dB) "
        "| max \\|centre error\\| (Hz) | max \\|occupied bandwidth error\\| |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for bandwidth in sorted({p.bandwidth_hz for p in points}):
        group = [p for p in points if p.bandwidth_hz == bandwidth]
        found = [p for p in group if p.detected] or group[:0]
        snr_errors = [abs(e) for p in found if (e := p.snr_error_db) is not None] or [float("nan")]
        lines.append(
            f"| {bandwidth:g} | {len(group)} | {len(found)} | {max(snr_errors):.3f} | {statistics.median(snr_errors):.3f} "
            f"| {max([abs(e) for p in found if (e := p.centre_error_hz) is not None] or [float('nan')]):.1f} "
            f"| {max([abs(e) for p in found if (e := p.bandwidth_error) is not None] or [float('nan')]):.1%} |"
        )
    return "\n".join(lines)


def noise_only_detections(seeds=NOISE_ONLY_SEEDS) -> int:
    """How many noise-only recordings report a signal (should be none)."""
    return sum(
        not compute_iq_metrics(tone_in_noise(SAMPLES, RATE_HZ, None, 0.0, seed=seed, noise_dbfs=NOISE_DBFS), RATE_HZ).no_signal
        for seed in seeds
    )


def by_snr(points: list[GridPoint]) -> list[SnrRow]:
    rows = []
    for snr in sorted({p.snr_db for p in points}):
        group = [p for p in points if p.snr_db == snr]
        found = [p for p in group if p.detected]
        snr_errors = [abs(e) for p in found if (e := p.snr_error_db) is not None] or [float("nan")]
        offset_errors = [abs(e) for p in found if (e := p.offset_error_hz) is not None] or [float("nan")]
        rows.append(
            SnrRow(
                snr,
                len(group),
                len(found),
                max(snr_errors),
                statistics.median(snr_errors),
                max(offset_errors),
                statistics.median(offset_errors),
            )
        )
    return rows


def markdown_table(rows: list[SnrRow]) -> str:
    lines = [
        "| true SNR (dB) | recordings | detected | max \\|SNR error\\| (dB) | median \\|SNR error\\| (dB) "
        "| max \\|offset error\\| (Hz) | median \\|offset error\\| (Hz) |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r.snr_db:g} | {r.recordings} | {r.detected} | {r.max_snr_error_db:.3f} | {r.median_snr_error_db:.3f} "
            f"| {r.max_offset_error_hz:.4f} | {r.median_offset_error_hz:.4f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Measure iq_metrics' errors over the synthetic grid.")
    parser.add_argument("--seeds", type=int, default=len(SEEDS), help="noise draws per (SNR, offset)")
    args = parser.parse_args(argv)
    seeds = tuple(range(1, args.seeds + 1))
    points = measure_grid(seeds=seeds)
    print(
        f"iq_metrics algorithm version {ALGORITHM_VERSION}: {SAMPLES:,} samples at {RATE_HZ / 1000:g} kHz, "
        f"noise {NOISE_DBFS:g} dBFS, {len(OFFSETS_HZ)} offsets × {len(seeds)} seeds per SNR\n"
    )
    print(markdown_table(by_snr(points)))
    print(f"\nnoise only: {noise_only_detections()} of {len(NOISE_ONLY_SEEDS)} recordings reported a signal")
    print(
        f"\nwideband signals (flat Gaussian, no carrier), SNR {', '.join(f'{s:g}' for s in WIDEBAND_SNR_DB)} dB, "
        f"centres {', '.join(f'{c:g}' for c, _ in WIDEBAND_SIGNALS_HZ)} Hz, {len(seeds)} seeds:\n"
    )
    print(wideband_table(measure_wideband(seeds=seeds)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
