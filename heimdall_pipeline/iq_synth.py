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
    rng = np.random.default_rng(seed)
    noise_power = 10.0 ** (noise_dbfs / 10.0)
    # One draw of 2n normals, I and Q interleaved: float32 halves the memory and time, and is all
    # a complex64 recording holds anyway.
    noise = rng.standard_normal(2 * n_samples, dtype=np.float32).view(np.complex64)
    samples = noise * np.float32(np.sqrt(noise_power / 2.0))
    if snr_db is not None:
        amplitude = np.sqrt(noise_power * 10.0 ** (snr_db / 10.0))
        phase = rng.uniform(0.0, 2.0 * np.pi)
        # The phase in float64 (exact to far below a sample at 125,000 samples), the tone in complex64.
        t = np.arange(n_samples, dtype=np.float64)
        angle = np.remainder(2.0 * np.pi * offset_hz / sample_rate_hz * t + phase, 2.0 * np.pi)
        samples += (amplitude * np.exp(1j * angle)).astype(np.complex64)
    if clip_level is not None:
        np.clip(samples.real, -clip_level, clip_level, out=samples.real)
        np.clip(samples.imag, -clip_level, clip_level, out=samples.imag)
    return samples
