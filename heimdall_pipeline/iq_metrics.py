"""Metrics recomputed from one IQ recording: SNR, frequency offset, powers, occupied bandwidth, flags.

Plain numpy, no Dagster. The method (docs/iq-metrics.md has the reasoning):

1. PSD: one Hann-windowed FFT of the whole recording (bins of sample_rate/N: 0.1 Hz for 125,000
   samples at 12.5 kHz), in linear power per Hz, fftshift order (-fs/2 … +fs/2). Scaled so that
   the PSD summed over all bins times the bin width is the recording's mean power |x|².
2. Noise floor: the median of the bins outside the occupied band, divided by ln 2. For complex
   Gaussian noise every bin is exponentially distributed, whose median is ln 2 times its mean.
3. Detection: the strongest bin is a signal only if it stands above the floor by ln(bins / P_FA):
   with exponential bins the chance that noise alone crosses it anywhere is at most P_FA.
4. Offset: the peak bin, refined by a parabola through the log powers of it and its neighbours.
5. Occupied band: the contiguous run around the peak where a moving average of the PSD stays
   above the floor (plus the averaging half-width). Signal power = the band's power minus the
   floor's share of it.
6. SNR = signal power / noise power in the whole sample-rate bandwidth (floor density × fs): the
   convention of iq_synth.tone_in_noise, whose snr_db is tone power over total noise power.

Powers are dBFS with full scale |x| = 1 (a full-scale complex sinusoid is 0 dBFS).
`noise_floor_dbfs` is the noise power in the whole sample-rate bandwidth (not per Hz, not per
bin), so snr_db == signal_power_dbfs - noise_floor_dbfs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# Bump when any metric can change for the same samples: the iq_metrics asset recomputes on a change.
ALGORITHM_VERSION = 1

FULL_SCALE = 1.0
# |I| or |Q| at or above this counts as clipped (an ADC's top code, after normalising to full scale).
CLIP_THRESHOLD = 0.999 * FULL_SCALE
# Probability that a noise-only recording reports a signal (over the whole spectrum).
FALSE_ALARM_PROBABILITY = 1e-6
# Fewer samples than this give no useful spectrum.
MIN_SAMPLES = 256
# Moving-average width (bins) used to find where the signal's band ends.
BAND_SMOOTHING_BINS = 64
# A smoothed PSD above floor × this is still signal (the average of 64 correlated exponential bins
# has a relative spread of about 0.15; this is about five of those).
BAND_EDGE_FACTOR = 1.75
# The fraction of the signal's power inside the occupied bandwidth (the ITU 99 % definition).
OCCUPIED_POWER_FRACTION = 0.99
# Hann window: its equivalent noise bandwidth in bins (Σw² N / (Σw)²).
HANN_ENBW_BINS = 1.5


class InvalidRecording(ValueError):
    """The samples cannot be measured; `reason` is a short code (the asset stores it)."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class IQMetrics:
    snr_db: float | None                # None when no signal detected
    frequency_offset_hz: float | None   # None when no signal detected
    signal_power_dbfs: float | None     # None when no signal detected
    noise_floor_dbfs: float             # noise power in the whole sample-rate bandwidth, dBFS
    occupied_bandwidth_hz: float | None # 99 % power bandwidth; None when no signal detected
    clipping_ratio: float               # fraction of samples with |I| or |Q| >= CLIP_THRESHOLD
    dc_spike: bool                      # a line at 0 Hz apart from the signal's band
    no_signal: bool
    samples_count: int
    samples_count_mismatch: bool        # expected_samples given and different
    algorithm_version: int


def _dbfs(power: float) -> float:
    return 10.0 * math.log10(power)


def _validated(samples) -> np.ndarray:
    array = np.asarray(samples)
    if array.dtype == object:
        raise InvalidRecording("object_array", "samples are Python objects, not numbers")
    if not np.iscomplexobj(array):
        raise InvalidRecording("not_complex", f"dtype {array.dtype} is not complex IQ")
    if array.ndim != 1:
        raise InvalidRecording("not_1d", f"shape {array.shape} is not one-dimensional")
    if array.size == 0:
        raise InvalidRecording("empty", "no samples")
    if array.size < MIN_SAMPLES:
        raise InvalidRecording("too_short", f"{array.size} samples, need at least {MIN_SAMPLES}")
    if not np.isfinite(array).all():
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise InvalidRecording("not_finite", f"{bad} samples are NaN or infinite")
    samples64 = array.astype(np.complex128, copy=False)
    if not np.any(samples64):
        raise InvalidRecording("all_zero", "every sample is 0: nothing was recorded")
    return samples64


def _parabolic_peak(log_left: float, log_peak: float, log_right: float) -> float:
    """Offset (in bins, within ±0.5) of a parabola's vertex through three equally spaced points."""
    denominator = log_left - 2.0 * log_peak + log_right
    if denominator >= 0.0:  # not a maximum (flat): stay on the bin
        return 0.0
    return float(np.clip(0.5 * (log_left - log_right) / denominator, -0.5, 0.5))


def _band_around(smoothed: np.ndarray, peak: int, level: float, guard: int) -> tuple[int, int]:
    """Bins [lo, hi] (inclusive, may lie outside 0..n-1: indices wrap) around peak where smoothed > level."""
    n = smoothed.size
    above = smoothed > level
    lo = peak
    while peak - lo < n // 2 and above[(lo - 1) % n]:
        lo -= 1
    hi = peak
    while hi - peak < n // 2 and above[(hi + 1) % n]:
        hi += 1
    lo -= guard
    hi += guard
    if hi - lo + 1 > n:
        return peak - n // 2, peak - n // 2 + n - 1
    return lo, hi


def compute_iq_metrics(samples: np.ndarray, sample_rate_hz: float, expected_samples: int | None = None) -> IQMetrics:
    """Metrics of one recording. Raises InvalidRecording (with .reason) when it cannot be measured."""
    if not (sample_rate_hz > 0 and math.isfinite(sample_rate_hz)):
        raise InvalidRecording("bad_sample_rate", f"sample rate {sample_rate_hz!r} Hz")
    x = _validated(samples)
    n = x.size
    clipping_ratio = float(np.count_nonzero((np.abs(x.real) >= CLIP_THRESHOLD) | (np.abs(x.imag) >= CLIP_THRESHOLD)) / n)

    window = np.hanning(n + 1)[:n]  # periodic Hann: exact ENBW of 1.5 bins
    bin_hz = sample_rate_hz / n
    # Power per Hz; FFT order (bin k is k·bin_hz, wrapping past fs/2 to negative frequencies).
    psd = np.abs(np.fft.fft(x * window)) ** 2 / (sample_rate_hz * float(np.sum(window**2)))

    floor = float(np.median(psd)) / math.log(2.0)
    threshold = math.log(n / FALSE_ALARM_PROBABILITY)
    peak = int(np.argmax(psd))
    band = None
    if floor > 0 and psd[peak] > floor * threshold:
        smoothing = min(BAND_SMOOTHING_BINS, n // 8)
        padded = np.concatenate([psd[-smoothing:], psd, psd[:smoothing]])
        cumulative = np.concatenate([[0.0], np.cumsum(padded)])
        half = smoothing // 2
        centres = np.arange(n) + smoothing
        smoothed = (cumulative[centres + half + 1] - cumulative[centres - half]) / (2 * half + 1)
        for _ in range(2):  # the floor without the band, then the band against that floor
            lo, hi = _band_around(smoothed, peak, floor * BAND_EDGE_FACTOR, half)
            outside = np.ones(n, dtype=bool)
            outside[np.arange(lo, hi + 1) % n] = False
            floor = float(np.median(psd[outside])) / math.log(2.0)
        band = _band_around(smoothed, peak, floor * BAND_EDGE_FACTOR, half)

    noise_power = floor * sample_rate_hz
    noise_floor_dbfs = _dbfs(noise_power) if noise_power > 0 else float("-inf")
    dc_spike = False
    in_band = np.zeros(n, dtype=bool)
    signal_power = 0.0
    if band is not None:
        lo, hi = band
        indices = np.arange(lo, hi + 1) % n
        in_band[indices] = True
        excess = psd[indices] - floor
        signal_power = float(np.sum(excess)) * bin_hz
    # A DC line: the 0 Hz bin (or its Hann neighbours) above the threshold for those few bins,
    # when it is not part of the signal's band (a carrier at 0 Hz cannot be told from DC).
    dc_bins = np.arange(-2, 3) % n
    if floor > 0 and not in_band[dc_bins].any():
        dc_spike = bool(psd[dc_bins].max() > floor * math.log(dc_bins.size / FALSE_ALARM_PROBABILITY))

    if band is None or signal_power <= 0:
        return IQMetrics(
            snr_db=None, frequency_offset_hz=None, signal_power_dbfs=None, noise_floor_dbfs=noise_floor_dbfs,
            occupied_bandwidth_hz=None, clipping_ratio=clipping_ratio, dc_spike=dc_spike, no_signal=True,
            samples_count=n, samples_count_mismatch=expected_samples is not None and expected_samples != n,
            algorithm_version=ALGORITHM_VERSION,
        )

    log_psd = np.log(psd[[(peak - 1) % n, peak, (peak + 1) % n]] + 1e-300)
    peak_bin = peak + _parabolic_peak(*log_psd)
    offset_hz = peak_bin * bin_hz
    if offset_hz >= sample_rate_hz / 2:
        offset_hz -= sample_rate_hz

    # 99 % power bandwidth: trim 0.5 % of the excess power from each end of the band.
    excess = np.clip(excess, 0.0, None)
    cumulative = np.cumsum(excess) / float(np.sum(excess))
    tail = (1.0 - OCCUPIED_POWER_FRACTION) / 2.0
    first = int(np.searchsorted(cumulative, tail, side="left"))
    last = int(np.searchsorted(cumulative, 1.0 - tail, side="left"))
    occupied_bandwidth_hz = (last - first + 1) * bin_hz

    return IQMetrics(
        snr_db=_dbfs(signal_power / noise_power),
        frequency_offset_hz=float(offset_hz),
        signal_power_dbfs=_dbfs(signal_power),
        noise_floor_dbfs=noise_floor_dbfs,
        occupied_bandwidth_hz=float(occupied_bandwidth_hz),
        clipping_ratio=clipping_ratio,
        dc_spike=dc_spike,
        no_signal=False,
        samples_count=n,
        samples_count_mismatch=expected_samples is not None and expected_samples != n,
        algorithm_version=ALGORITHM_VERSION,
    )
