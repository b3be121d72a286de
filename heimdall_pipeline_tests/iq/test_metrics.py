"""The IQ metrics library on synthetic recordings with known truth (pure logic, no services)."""

from __future__ import annotations

import numpy as np
import pytest

from heimdall_pipeline.devtools.iq_synth import band_in_noise, tone_in_noise
from heimdall_pipeline.iq.metrics import ALGORITHM_VERSION, InvalidRecording, IQMetrics, compute_iq_metrics

RATE_HZ = 12_500.0
SAMPLES = 125_000


def test_a_tone_gives_its_snr_offset_and_powers():
    samples = tone_in_noise(SAMPLES, RATE_HZ, snr_db=15.0, offset_hz=-37.25, seed=3, noise_dbfs=-50.0)

    metrics = compute_iq_metrics(samples, RATE_HZ, expected_samples=SAMPLES)

    assert isinstance(metrics, IQMetrics)
    assert not metrics.no_signal
    assert metrics.snr_db == pytest.approx(15.0, abs=0.5)
    assert metrics.frequency_offset_hz == pytest.approx(-37.25, abs=1.0)
    assert metrics.noise_floor_dbfs == pytest.approx(-50.0, abs=0.2)
    assert metrics.signal_power_dbfs == pytest.approx(-35.0, abs=0.5)
    # snr_db is signal over the noise of the whole band, so the three agree exactly.
    assert metrics.snr_db == pytest.approx(metrics.signal_power_dbfs - metrics.noise_floor_dbfs)
    assert 0 < metrics.occupied_bandwidth_hz < 5.0  # a pure tone: a few 0.1 Hz bins
    assert (metrics.clipping_ratio, metrics.dc_spike, metrics.samples_count_mismatch) == (0.0, False, False)
    assert (metrics.samples_count, metrics.algorithm_version) == (SAMPLES, ALGORITHM_VERSION)


def test_noise_only_reports_no_signal_and_its_floor():
    samples = tone_in_noise(SAMPLES, RATE_HZ, snr_db=None, offset_hz=0.0, seed=11, noise_dbfs=-40.0)

    metrics = compute_iq_metrics(samples, RATE_HZ)

    assert metrics.no_signal
    assert (metrics.snr_db, metrics.frequency_offset_hz, metrics.signal_power_dbfs, metrics.occupied_bandwidth_hz) == (
        None,
        None,
        None,
        None,
    )
    assert metrics.noise_floor_dbfs == pytest.approx(-40.0, abs=0.2)


def test_a_clipped_recording_is_flagged():
    # A tone 45 dB over -40 dBFS noise has amplitude 1.8: the ADC saturates at full scale.
    samples = tone_in_noise(SAMPLES, RATE_HZ, snr_db=45.0, offset_hz=100.0, seed=1, clip_level=1.0)

    metrics = compute_iq_metrics(samples, RATE_HZ)

    assert metrics.clipping_ratio > 0.5
    assert metrics.frequency_offset_hz == pytest.approx(100.0, abs=1.0)


def test_clipping_ratio_counts_samples_at_full_scale_on_either_rail():
    samples = tone_in_noise(4_000, RATE_HZ, snr_db=20.0, offset_hz=500.0, seed=2, noise_dbfs=-60.0)
    samples[:40] = 1.0 + 0.0j
    samples[40:100] = 0.1 - 1.0j

    assert compute_iq_metrics(samples, RATE_HZ).clipping_ratio == pytest.approx(100 / 4_000)


def test_a_dc_line_beside_the_signal_is_flagged():
    samples = tone_in_noise(SAMPLES, RATE_HZ, snr_db=20.0, offset_hz=1_500.0, seed=4, noise_dbfs=-50.0)
    clean = compute_iq_metrics(samples, RATE_HZ)
    samples += np.complex64(10 ** (-40 / 20))  # a DC offset 10 dB over the noise (LO leakage)

    spiked = compute_iq_metrics(samples, RATE_HZ)

    assert (clean.dc_spike, spiked.dc_spike) == (False, True)
    assert spiked.frequency_offset_hz == pytest.approx(1_500.0, abs=1.0)  # the tone is still the signal


def test_a_carrier_on_a_wideband_signal_gives_the_carrier_and_the_whole_band():
    wide = band_in_noise(SAMPLES, RATE_HZ, snr_db=10.0, centre_hz=500.0, bandwidth_hz=2_000.0, seed=9, noise_dbfs=-50.0)
    # A bare tone of -40 dBFS, as strong as the wideband signal (its noise is negligible).
    carrier = tone_in_noise(SAMPLES, RATE_HZ, snr_db=160.0, offset_hz=123.4, seed=10, noise_dbfs=-200.0)

    metrics = compute_iq_metrics(wide + carrier, RATE_HZ)

    assert metrics.frequency_offset_hz == pytest.approx(123.4, abs=1.0)
    assert metrics.snr_db == pytest.approx(10 * np.log10(20.0), abs=0.5)  # both halves of the power
    assert metrics.occupied_bandwidth_hz == pytest.approx(0.99 * 2_000.0, rel=0.05)


def test_sample_count_mismatch_against_the_metadata():
    samples = tone_in_noise(SAMPLES, RATE_HZ, snr_db=10.0, offset_hz=0.0, seed=5)

    assert compute_iq_metrics(samples, RATE_HZ, expected_samples=SAMPLES).samples_count_mismatch is False
    assert compute_iq_metrics(samples, RATE_HZ, expected_samples=SAMPLES + 1).samples_count_mismatch is True
    assert compute_iq_metrics(samples, RATE_HZ).samples_count_mismatch is False  # nothing to compare with


def test_complex128_input_gives_the_same_metrics_as_complex64():
    samples = tone_in_noise(SAMPLES, RATE_HZ, snr_db=5.0, offset_hz=2_000.0, seed=6)

    assert compute_iq_metrics(samples.astype(np.complex128), RATE_HZ) == compute_iq_metrics(samples, RATE_HZ)


@pytest.mark.parametrize(
    ("samples", "reason"),
    [
        (np.zeros(0, dtype=np.complex64), "empty"),
        (np.ones(100, dtype=np.complex64), "too_short"),
        (np.zeros(SAMPLES, dtype=np.complex64), "all_zero"),
        (np.ones(SAMPLES, dtype=np.float32), "not_complex"),
        (np.ones(SAMPLES, dtype=np.int16), "not_complex"),
        (np.ones((2, 1_000), dtype=np.complex64), "not_1d"),
        (np.array([1 + 1j] * 1_000, dtype=object), "object_array"),
    ],
)
def test_unmeasurable_recordings_raise_with_a_reason(samples, reason):
    with pytest.raises(InvalidRecording) as raised:
        compute_iq_metrics(samples, RATE_HZ)
    assert raised.value.reason == reason


@pytest.mark.parametrize("bad", [np.nan, np.inf, complex(0, -np.inf)])
def test_non_finite_samples_raise_not_finite(bad):
    samples = tone_in_noise(SAMPLES, RATE_HZ, snr_db=10.0, offset_hz=0.0, seed=7)
    samples[1234] = bad

    with pytest.raises(InvalidRecording) as raised:
        compute_iq_metrics(samples, RATE_HZ)
    assert raised.value.reason == "not_finite"
    assert "1 samples" in str(raised.value)


@pytest.mark.parametrize("rate", [0.0, -12_500.0, float("nan")])
def test_a_bad_sample_rate_raises(rate):
    with pytest.raises(InvalidRecording) as raised:
        compute_iq_metrics(tone_in_noise(1_000, RATE_HZ, 10.0, 0.0, seed=8), rate)
    assert raised.value.reason == "bad_sample_rate"


def _band_over_the_whole_spectrum(psd: np.ndarray, peak: int, level: float, width: int) -> tuple[int, int]:
    """The band's definition computed the plain way (version 2): the circular moving average of every
    bin, then the nearest bins at or below level on either side of the peak."""
    n, half = psd.size, width // 2
    padded = np.concatenate([psd[-half:], psd, psd[:half]])
    cumulative = np.concatenate([[0.0], np.cumsum(padded, dtype=np.float64)])
    below = np.flatnonzero((cumulative[width:] - cumulative[:-width]) / width <= level)
    if below.size == 0:
        return peak - n // 2, peak - n // 2 + n - 1
    lo = min(peak - int(((peak - below) % n).min()) + 1, peak) - half
    hi = max(peak + int(((below - peak) % n).min()) - 1, peak) + half
    if hi - lo + 1 > n:
        return peak - n // 2, peak - n // 2 + n - 1
    return lo, hi


@pytest.mark.parametrize("band_bins", [0, 3, 400, 20_000, 70_000, 99_000, 124_990, 125_000])
@pytest.mark.parametrize("start", [0, 30_000, 124_900])
def test_the_band_found_near_the_peak_is_the_band_of_the_whole_spectrum(band_bins, start):
    # _band_around averages only near the peak, over a span it widens: bands up to the whole circle,
    # wrapping or not, must come out as the whole-spectrum definition gives them.
    from heimdall_pipeline.iq.metrics import _band_around

    rng = np.random.default_rng(band_bins + start)
    psd = rng.exponential(1.0, SAMPLES).astype(np.float32)
    psd[np.arange(start, start + band_bins) % SAMPLES] *= 20.0
    for peak in {start % SAMPLES, (start + band_bins // 2) % SAMPLES, (start + band_bins - 1) % SAMPLES}:
        for width in (65, 1025):
            assert _band_around(psd, peak, 2.0, width) == _band_over_the_whole_spectrum(psd, peak, 2.0, width)
