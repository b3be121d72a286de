"""The accuracy goal of issue 11, asserted over the synthetic grid (iq_accuracy), against analytic truth."""

from __future__ import annotations

import math

import pytest

from heimdall_pipeline.devtools.iq_accuracy import (
    NOISE_ONLY_SEEDS,
    OFFSET_GOAL_HZ,
    OFFSETS_HZ,
    RATE_HZ,
    SAMPLES,
    SNR_GOAL_DB,
    SNR_GRID_DB,
    by_snr,
    markdown_table,
    measure_grid,
    measure_wideband,
    noise_only_detections,
    wideband_table,
)
from heimdall_pipeline.devtools.iq_synth import tone_in_noise
from heimdall_pipeline.iq.metrics import compute_iq_metrics

# One worker computes the grid once for all the tests that read it (make test runs --dist loadgroup).
pytestmark = pytest.mark.xdist_group("iq_accuracy")


@pytest.fixture(scope="module")
def grid():
    return measure_grid()


def test_the_grid_covers_the_band_edges_zero_and_the_snr_range():
    assert min(SNR_GRID_DB) <= -5 and max(SNR_GRID_DB) >= 40
    assert min(OFFSETS_HZ) < -0.49 * RATE_HZ and max(OFFSETS_HZ) > 0.49 * RATE_HZ
    assert 0.0 in OFFSETS_HZ and any(0 < abs(o) < 1 for o in OFFSETS_HZ)


def test_every_tone_is_detected_with_its_offset_within_1_hz(grid):
    assert all(p.detected for p in grid), [p for p in grid if not p.detected]
    worst = max(grid, key=lambda p: abs(p.offset_error_hz))
    assert abs(worst.offset_error_hz) <= OFFSET_GOAL_HZ, worst


def test_snr_is_within_half_a_db_wherever_snr_is_at_least_0_db(grid):
    at_or_above_0 = [p for p in grid if p.snr_db >= 0]
    worst = max(at_or_above_0, key=lambda p: abs(p.snr_error_db))
    assert abs(worst.snr_error_db) <= SNR_GOAL_DB, worst


def test_the_table_has_one_row_per_snr_with_every_recording(grid):
    rows = by_snr(grid)
    assert [r.snr_db for r in rows] == sorted(SNR_GRID_DB)
    assert all(r.recordings == r.detected == len(grid) // len(SNR_GRID_DB) for r in rows)
    table = markdown_table(rows)
    assert table.count("\n") == len(rows) + 1  # header, rule, one line per SNR


def test_noise_only_recordings_report_no_signal():
    assert len(NOISE_ONLY_SEEDS) >= 10
    assert noise_only_detections() == 0


def test_a_clipped_recording_is_flagged_and_a_clean_one_is_not():
    clean = tone_in_noise(SAMPLES, RATE_HZ, 30.0, 1_000.0, seed=3, noise_dbfs=-40.0, clip_level=1.0)
    clipped = tone_in_noise(SAMPLES, RATE_HZ, 42.0, 1_000.0, seed=3, noise_dbfs=-40.0, clip_level=1.0)

    assert compute_iq_metrics(clean, RATE_HZ).clipping_ratio == 0.0
    assert compute_iq_metrics(clipped, RATE_HZ).clipping_ratio > 0.1


def test_wideband_signals_without_a_carrier_are_measured_too():
    points = measure_wideband(seeds=(1,))

    assert all(p.detected for p in points), [p for p in points if not p.detected]
    for p in points:
        assert abs(p.snr_error_db) <= SNR_GOAL_DB, p
        # A random flat band's own power centre strays from its nominal centre: over B·10 bins of
        # 0.1 Hz (1.944 bins' worth of variance each) its spread is sqrt(0.0162·B) Hz; allow five of those.
        assert abs(p.centre_error_hz) <= 5 * math.sqrt(0.0162 * p.bandwidth_hz) + 1.0, p
        assert abs(p.bandwidth_error) <= 0.05, p
    assert wideband_table(points).count("\n") == len({p.bandwidth_hz for p in points}) + 1
