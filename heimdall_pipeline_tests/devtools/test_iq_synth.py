"""Synthetic recordings: their powers are what was asked, and a seed gives the same bytes."""

from __future__ import annotations

import numpy as np
import pytest

from heimdall_pipeline.devtools.iq_synth import band_in_noise, tone_in_noise


def test_noise_power_and_dtype_are_as_asked():
    samples = tone_in_noise(200_000, 12_500.0, snr_db=None, offset_hz=0.0, seed=1, noise_dbfs=-30.0)

    assert samples.dtype == np.complex64 and samples.shape == (200_000,)
    assert 10 * np.log10(np.mean(np.abs(samples.astype(np.complex128)) ** 2)) == pytest.approx(-30.0, abs=0.05)
    # Circular noise: I and Q carry half each and are uncorrelated.
    assert np.var(samples.real) == pytest.approx(np.var(samples.imag), rel=0.02)
    assert abs(np.mean(samples.real * samples.imag)) < 0.02 * np.var(samples.real)


def test_the_tone_has_the_asked_power_and_frequency():
    rate, n = 12_500.0, 125_000
    noisy = tone_in_noise(n, rate, snr_db=20.0, offset_hz=-1_234.5, seed=2, noise_dbfs=-50.0)
    quiet = tone_in_noise(n, rate, snr_db=None, offset_hz=-1_234.5, seed=2, noise_dbfs=-50.0)
    tone = noisy.astype(np.complex128) - quiet  # same seed: the same noise draw

    assert 10 * np.log10(np.mean(np.abs(tone) ** 2)) == pytest.approx(-30.0, abs=0.01)
    peak = np.fft.fftfreq(n, 1 / rate)[np.argmax(np.abs(np.fft.fft(tone)))]
    assert peak == pytest.approx(-1_234.5, abs=rate / n)


def test_the_same_seed_gives_the_same_bytes_and_another_seed_does_not():
    first = tone_in_noise(10_000, 12_500.0, 10.0, 42.0, seed=9).tobytes()

    assert tone_in_noise(10_000, 12_500.0, 10.0, 42.0, seed=9).tobytes() == first
    assert tone_in_noise(10_000, 12_500.0, 10.0, 42.0, seed=10).tobytes() != first


def test_clip_level_saturates_i_and_q_separately():
    samples = tone_in_noise(10_000, 12_500.0, snr_db=50.0, offset_hz=300.0, seed=3, clip_level=0.5)

    assert np.abs(samples.real).max() == pytest.approx(0.5) and np.abs(samples.imag).max() == pytest.approx(0.5)
    assert np.mean(np.abs(samples.real) == np.float32(0.5)) > 0.5


def test_bad_arguments_raise():
    with pytest.raises(ValueError):
        tone_in_noise(-1, 12_500.0, 10.0, 0.0, seed=0)
    with pytest.raises(ValueError):
        tone_in_noise(100, 0.0, 10.0, 0.0, seed=0)


@pytest.mark.parametrize("arguments", [{"snr_db": 1e200}, {"snr_db": float("nan")}, {"offset_hz": float("inf")}])
def test_absurd_levels_or_offsets_raise_instead_of_overflowing(arguments):
    with pytest.raises(ValueError):
        tone_in_noise(100, 12_500.0, **{"snr_db": 10.0, "offset_hz": 0.0, **arguments}, seed=0)


def test_a_wideband_signal_has_the_asked_power_inside_its_band_only():
    rate, n = 12_500.0, 125_000
    samples = band_in_noise(n, rate, snr_db=10.0, centre_hz=-6_000.0, bandwidth_hz=1_000.0, seed=4, noise_dbfs=-60.0)
    quiet = band_in_noise(n, rate, snr_db=-200.0, centre_hz=-6_000.0, bandwidth_hz=1_000.0, seed=4, noise_dbfs=-60.0)
    signal = samples.astype(np.complex128) - quiet  # the same seed: the same noise

    assert samples.dtype == np.complex64
    assert 10 * np.log10(np.mean(np.abs(signal) ** 2)) == pytest.approx(-50.0, abs=0.01)
    spectrum = np.abs(np.fft.fft(signal)) ** 2
    frequencies = np.fft.fftfreq(n, 1 / rate)
    inside = (frequencies < -5_500.0) | (frequencies > 5_750.0)  # -6500..-5500 Hz wraps past -6250
    assert spectrum[~inside].sum() < 1e-6 * spectrum.sum()
    with pytest.raises(ValueError):
        band_in_noise(n, rate, 10.0, 0.0, bandwidth_hz=rate, seed=0)
