"""Synthetic IQ recordings with analytic truth: a complex tone in complex white Gaussian noise.

The SNR convention is the one iq_metrics measures: tone power (A² for A·e^{jωt}) over the noise
power in the whole sample-rate bandwidth (E|n|², split equally between I and Q). Powers are dBFS
with full scale |x| = 1. Same arguments and seed give the same samples (numpy's PCG64 Generator).
"""

from __future__ import annotations

import numpy as np


def tone_in_noise(
    n_samples: int,
    sample_rate_hz: float,
    snr_db: float | None,
    offset_hz: float,
    seed: int,
    noise_dbfs: float = -40.0,
    clip_level: float | None = None,
) -> np.ndarray:
    """complex64 samples: a tone at offset_hz with tone power / noise power = snr_db (None: noise only).

    clip_level clips I and Q separately to ±clip_level, as a saturating ADC does.
    """
    if n_samples < 0:
        raise ValueError(f"n_samples must be >= 0, got {n_samples}")
    if not sample_rate_hz > 0:
        raise ValueError(f"sample_rate_hz must be > 0, got {sample_rate_hz}")
    if not np.isfinite(offset_hz):
        raise ValueError(f"offset_hz must be finite, got {offset_hz}")
    for name, level in (("snr_db", 0.0 if snr_db is None else snr_db), ("noise_dbfs", noise_dbfs)):
        if not abs(level) <= 1_000.0:  # beyond that 10**(dB/10) overflows; NaN fails too
            raise ValueError(f"{name} must be a finite level within ±1000 dB, got {level}")
    rng = np.random.default_rng(seed)
    noise_power = 10.0 ** (noise_dbfs / 10.0)
    # One draw of 2n normals, I and Q interleaved: float32 halves the memory and time, and is all
    # a complex64 recording holds anyway.
    noise = rng.standard_normal(2 * n_samples, dtype=np.float32).view(np.complex64)
    samples = noise * np.float32(np.sqrt(noise_power / 2.0))
    if snr_db is not None:
        amplitude = np.sqrt(noise_power * 10.0 ** (snr_db / 10.0))
        phase = rng.uniform(0.0, 1.0)  # in turns
        # The phase in float64 (exact to far below a sample over 125,000 samples), reduced to one
        # turn; then float32 cosine and sine, 20 times cheaper than a complex128 exp and as exact
        # as complex64 holds.
        turns = np.remainder(offset_hz / sample_rate_hz * np.arange(n_samples, dtype=np.float64) + phase, 1.0)
        angle = (2.0 * np.pi * turns).astype(np.float32)
        samples.real += np.float32(amplitude) * np.cos(angle)
        samples.imag += np.float32(amplitude) * np.sin(angle)
    if clip_level is not None:
        np.clip(samples.real, -clip_level, clip_level, out=samples.real)
        np.clip(samples.imag, -clip_level, clip_level, out=samples.imag)
    return samples


def band_in_noise(
    n_samples: int,
    sample_rate_hz: float,
    snr_db: float,
    centre_hz: float,
    bandwidth_hz: float,
    seed: int,
    noise_dbfs: float = -40.0,
) -> np.ndarray:
    """complex64 samples: a wideband signal (Gaussian, flat over centre_hz ± bandwidth_hz/2, as noise-
    modulated FM looks) in white noise, with signal power / total noise power = snr_db exactly."""
    if not 0 < bandwidth_hz < sample_rate_hz:
        raise ValueError(f"bandwidth_hz must be within (0, {sample_rate_hz}), got {bandwidth_hz}")
    rng = np.random.default_rng(seed)
    noise = tone_in_noise(n_samples, sample_rate_hz, None, 0.0, seed=int(rng.integers(2**63)), noise_dbfs=noise_dbfs)
    frequencies = np.fft.fftfreq(n_samples, 1.0 / sample_rate_hz)
    # Distance to the centre around the circle of frequencies, so a band may wrap past ±fs/2.
    distance = np.abs((frequencies - centre_hz + sample_rate_hz / 2) % sample_rate_hz - sample_rate_hz / 2)
    spectrum = (rng.standard_normal(n_samples) + 1j * rng.standard_normal(n_samples)) * (distance < bandwidth_hz / 2)
    signal = np.fft.ifft(spectrum)
    target = 10.0 ** ((noise_dbfs + snr_db) / 10.0)
    signal *= np.sqrt(target / np.mean(np.abs(signal) ** 2))
    return (noise + signal).astype(np.complex64)
