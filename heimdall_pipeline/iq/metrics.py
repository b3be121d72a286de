"""Metrics recomputed from one IQ recording: SNR, frequency offset, powers, occupied bandwidth, flags.

numpy and scipy.fft, no Dagster. The method (docs/iq-metrics.md has the reasoning):

1. PSD: one Hann-windowed single-precision FFT of the whole recording (bins of sample_rate/N: 0.1 Hz for 125,000
   samples at 12.5 kHz), in linear power per Hz, scaled so that the bins summed times the bin width
   are the recording's mean power |x|². Bins are taken circularly (a band may wrap past ±fs/2);
   frequencies are reported in fftshift order's range, [-fs/2, fs/2).
2. Noise floor: the median of the bins outside the signal's band, divided by ln 2. For complex
   Gaussian noise every bin is exponentially distributed, whose median is ln 2 times its mean.
3. Detection, for a false-alarm probability P_FA: the strongest bin is a carrier if it stands above
   both the floor and its own surroundings by ln(bins / P_FA) (exponential bins: noise alone
   crosses that anywhere with probability at most P_FA). Failing that, a moving average of the PSD
   (1025 bins, then 65) above its own P_FA threshold is a wideband signal.
4. Offset: a carrier's peak bin, refined by a parabola through the log powers of it and its
   neighbours; for a wideband signal without a carrier, the centre of its band's power.
5. Band: the contiguous run around the peak where the moving average stays above the floor by
   more than 4.5 of its noise spreads, plus half the averaging width. Signal power = the mean power
   less the PSD outside the band, less the floor's share of the band. Occupied bandwidth: 99 % of
   the band's power above the floor.
6. SNR = signal power / noise power in the whole sample-rate bandwidth (floor density × fs): the
   convention of iq_synth.tone_in_noise, whose snr_db is tone power over total noise power.

Powers are dBFS with full scale |x| = 1 (a full-scale complex sinusoid is 0 dBFS).
`noise_floor_dbfs` is the noise power in the whole sample-rate bandwidth (not per Hz, not per
bin), so snr_db == signal_power_dbfs - noise_floor_dbfs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from statistics import NormalDist

import numpy as np
import scipy.fft

# Bump when any metric can change for the same samples: the iq_metrics asset recomputes on a change.
ALGORITHM_VERSION = 3

FULL_SCALE = 1.0
# |I| or |Q| at or above this counts as clipped (an ADC's top code, after normalising to full scale).
CLIP_THRESHOLD = 0.999 * FULL_SCALE
# Probability that a noise-only recording reports a signal (over the whole spectrum).
FALSE_ALARM_PROBABILITY = 1e-6
# Fewer samples than this give no useful spectrum.
MIN_SAMPLES = 256
# Moving-average widths (bins) for wideband signals: 1025 bins (102 Hz) finds weak wide signals,
# 65 (6.5 Hz) weak narrow ones; 65 also finds where a carrier's band ends.
AVERAGING_BINS = (1025, 65)
# A carrier's bin is compared with the bins within this distance (bar its own main lobe) too.
CARRIER_SURROUNDINGS_BINS = 64
# The band ends where the average falls within this many of its noise spreads of the floor.
BAND_EDGE_SPREADS = 4.5
# The fraction of the signal's power inside the occupied bandwidth (the ITU 99 % definition).
OCCUPIED_POWER_FRACTION = 0.99


class InvalidRecording(ValueError):
    """The samples cannot be measured; `reason` is a short code (the asset stores it)."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason


@dataclass(frozen=True)
class IQMetrics:
    snr_db: float | None  # None when no signal detected
    frequency_offset_hz: float | None  # None when no signal detected
    signal_power_dbfs: float | None  # None when no signal detected
    noise_floor_dbfs: float  # noise power in the whole sample-rate bandwidth, dBFS
    occupied_bandwidth_hz: float | None  # 99 % power bandwidth; None when no signal detected
    clipping_ratio: float  # fraction of samples with |I| or |Q| >= CLIP_THRESHOLD
    dc_spike: bool  # a line at 0 Hz apart from the signal's band
    no_signal: bool
    samples_count: int
    samples_count_mismatch: bool  # expected_samples given and different
    algorithm_version: int


def _dbfs(power: float) -> float:
    return 10.0 * math.log10(power)


def _validated(samples) -> np.ndarray:
    """The samples as a contiguous native complex64 array (complex64 input is not copied: never written to)."""
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
    # Single precision, native order, contiguous: what Heimdall writes, and what the FFT runs on.
    # Its rounding (1e-7) is far below every error the metrics have; complex128 is measured as its
    # complex64 rounding, so both give the same metrics.
    array = np.ascontiguousarray(array, dtype=np.complex64)
    components = _components(array)
    if not np.isfinite(components).all():  # NaN, infinite, or beyond complex64's range
        bad = int(np.count_nonzero(~np.isfinite(array)))
        raise InvalidRecording("not_finite", f"{bad} samples are NaN or infinite (or beyond complex64)")
    if not np.any(components):
        raise InvalidRecording("all_zero", "every sample is 0: nothing was recorded")
    return array


def _components(x: np.ndarray) -> np.ndarray:
    """I and Q interleaved, as a real view of the contiguous complex samples (no copy)."""
    return x.view(x.real.dtype)


@lru_cache(maxsize=8)
def _hann(n: int) -> tuple[np.ndarray, float]:
    """Periodic Hann window of n points (ENBW exactly 1.5 bins) and its Σw²; read-only, cached."""
    window = np.hanning(n + 1)[:n]
    window_power = float(np.sum(window**2))
    window = window.astype(np.float32)
    window.flags.writeable = False
    return window, window_power


def _parabolic_peak(log_left: float, log_peak: float, log_right: float) -> float:
    """Offset (in bins, within ±0.5) of a parabola's vertex through three equally spaced points."""
    denominator = log_left - 2.0 * log_peak + log_right
    if denominator >= 0.0:  # not a maximum (flat): stay on the bin
        return 0.0
    return float(np.clip(0.5 * (log_left - log_right) / denominator, -0.5, 0.5))


def _median(values: np.ndarray) -> float:
    """np.median of a 1-D array, by one single-kth partition: numpy's SIMD select, ~10× its median."""
    k = values.size // 2
    part = np.partition(values, k)
    if values.size % 2:
        return float(part[k])
    return (float(part[:k].max()) + float(part[k])) / 2.0


def _circular(values: np.ndarray, start: int, count: int) -> np.ndarray:
    """values[start], values[start + 1], ... (count of them), wrapping past the end."""
    n = values.size
    start %= n
    if start + count <= n:
        return values[start : start + count]
    if count <= n:
        return np.concatenate([values[start:], values[: start + count - n]])
    return np.take(values, np.arange(start, start + count), mode="wrap")  # more than once round


def _floor_outside(psd: np.ndarray, lo: int, hi: int) -> float:
    """Noise floor (median / ln 2) of the bins outside the circular band [lo, hi]."""
    n = psd.size
    return _median(_circular(psd, hi + 1, n - (hi - lo + 1))) / math.log(2.0)


def _band_around(psd: np.ndarray, peak: int, level: float, width: int) -> tuple[int, int]:
    """Bins [lo, hi] (inclusive, may lie outside 0..n-1: indices wrap) around peak where the
    `width`-bin moving average of psd is above level, widened by width // 2 on each side.

    The average is computed only near the peak, over a span doubled until both edges are in it.
    """
    n = psd.size
    half, guard = width // 2, width // 2
    radius = 4 * width
    while True:
        radius = min(radius, n)
        segment = _circular(psd, peak - radius - half, 2 * radius + width).astype(np.float64)
        cumulative = np.concatenate([[0.0], np.cumsum(segment)])
        below = (cumulative[width:] - cumulative[:-width]) / width <= level  # index j: bin peak - radius + j
        left = np.flatnonzero(below[: radius + 1])
        right = np.flatnonzero(below[radius:])
        if left.size and right.size:
            lo = peak - radius + int(left[-1]) + 1
            hi = peak + int(right[0]) - 1
            break
        if radius >= n:  # the average never falls to the level: the whole band
            return peak - n // 2, peak - n // 2 + n - 1
        radius *= 2
    lo, hi = min(lo, peak) - guard, max(hi, peak) + guard
    if hi - lo + 1 > n:
        return peak - n // 2, peak - n // 2 + n - 1
    return lo, hi


def _cumulative_padded(psd: np.ndarray, pad: int) -> np.ndarray:
    """Cumulative sums (float64, leading 0) of psd padded circularly by `pad` bins on each side."""
    padded = np.concatenate([psd[-pad:], psd, psd[:pad]])
    cumulative = np.empty(padded.size + 1)
    cumulative[0] = 0.0
    np.cumsum(padded, dtype=np.float64, out=cumulative[1:])
    return cumulative


def _moving_average(cumulative: np.ndarray, pad: int, width: int) -> np.ndarray:
    """Circular centred moving average over `width` (odd, at most 2·pad + 1) bins, from _cumulative_padded."""
    n = cumulative.size - 1 - 2 * pad
    start = pad - width // 2
    return (cumulative[start + width : start + width + n] - cumulative[start : start + n]) / width


def _averaged_variance(width: int) -> float:
    """Variance (relative to the mean²) of the average of `width` adjacent Hann bins of white noise.

    The bins are exponential with power correlations 4/9 (neighbours) and 1/36 (two apart).
    """
    return (1 + 2 * (4 / 9) * (width - 1) / width + 2 * (1 / 36) * (width - 2) / width) / width


def _averaged_threshold(n: int, width: int) -> float:
    """Factor over the floor that the average of `width` noise bins exceeds anywhere with probability P_FA.

    The average is close to a gamma variate of the same variance; its quantile by Wilson-Hilferty,
    with P_FA split over the n / width independent averages.
    """
    shape = 1.0 / _averaged_variance(width)
    z = NormalDist().inv_cdf(1.0 - FALSE_ALARM_PROBABILITY * width / n)
    return (1.0 - 1.0 / (9.0 * shape) + z * math.sqrt(1.0 / (9.0 * shape))) ** 3


def compute_iq_metrics(samples: np.ndarray, sample_rate_hz: float, expected_samples: int | None = None) -> IQMetrics:
    """Metrics of one recording. Raises InvalidRecording (with .reason) when it cannot be measured."""
    if not (sample_rate_hz > 0 and math.isfinite(sample_rate_hz)):
        raise InvalidRecording("bad_sample_rate", f"sample rate {sample_rate_hz!r} Hz")
    x = _validated(samples)
    n = x.size
    components = _components(x)
    magnitudes = np.abs(components)
    clipped = 0
    if magnitudes.max() >= CLIP_THRESHOLD:  # rare: count samples (I or Q clipped), not components
        clipped = int(np.count_nonzero(magnitudes.reshape(n, 2).max(axis=1) >= CLIP_THRESHOLD))
    clipping_ratio = clipped / n
    del magnitudes
    # In float64 whatever the input: complex64 and complex128 samples give the same metrics.
    mean_power = float(np.sum(np.square(components, dtype=np.float64))) / n

    window, window_power = _hann(n)
    bin_hz = sample_rate_hz / n
    # scipy's FFT in single precision, in place: 4× numpy's (whose complex64 FFT is slower than its
    # complex128 one). The power sums below are taken in float64.
    spectrum = scipy.fft.fft(x * window, overwrite_x=True)
    # Power per Hz (float32); FFT order (bin k is k·bin_hz, wrapping past fs/2 to negative frequencies).
    psd = spectrum.real**2
    psd += spectrum.imag**2
    del spectrum
    psd *= np.float32(1.0 / (sample_rate_hz * window_power))

    floor = _median(psd) / math.log(2.0)
    # A carrier stands out in one bin, above the floor and above its own surroundings (the bins of a
    # wideband signal are exponential around its level too); a wideband signal (FM) stands out only
    # in the average of many bins: first a wide average (weak wide signals), then a narrow one.
    peak = int(np.argmax(psd))
    around = np.r_[peak - CARRIER_SURROUNDINGS_BINS : peak - 4, peak + 5 : peak + CARRIER_SURROUNDINGS_BINS + 1] % n
    surroundings = _median(psd[around]) / math.log(2.0)
    carrier = floor > 0 and psd[peak] > max(floor, surroundings) * math.log(n / FALSE_ALARM_PROBABILITY)
    detected = carrier
    width = min(AVERAGING_BINS[-1], n // 8) | 1  # odd: centred on its bin
    if not carrier:  # a carrier's band needs the narrow average only near its peak (_band_around)
        pad = max(min(w, n // 8) | 1 for w in AVERAGING_BINS) // 2
        cumulative = _cumulative_padded(psd, pad)  # one cumulative sum for every width
        for width in AVERAGING_BINS:
            width = min(width, n // 8) | 1
            smoothed = _moving_average(cumulative, pad, width)
            peak = int(np.argmax(smoothed))
            detected = floor > 0 and smoothed[peak] > floor * _averaged_threshold(n, width)
            if detected:
                break
        del smoothed, cumulative  # the large arrays go before the band is measured
    band = None
    if detected:
        # Where the average falls back to the floor, give or take its spread: the band's edges.
        edge = 1.0 + BAND_EDGE_SPREADS * math.sqrt(_averaged_variance(width))
        measured_band = None
        for _ in range(2):  # the floor without the band, then the band against that floor
            lo, hi = _band_around(psd, peak, floor * edge, width)
            if n - (hi - lo + 1) < n // 10:  # the signal fills the band: keep the overall floor
                break
            if (lo, hi) == measured_band:  # the same band again: the same floor
                break
            floor = _floor_outside(psd, lo, hi)
            measured_band = (lo, hi)
        band = _band_around(psd, peak, floor * edge, width)

    noise_power = floor * sample_rate_hz
    noise_floor_dbfs = _dbfs(noise_power) if noise_power > 0 else float("-inf")
    dc_spike = False
    in_band = np.zeros(n, dtype=bool)
    signal_power = 0.0
    if band is not None:
        lo, hi = band
        indices = np.arange(lo, hi + 1) % n
        in_band[indices] = True
        band_psd = psd[indices].astype(np.float64)
        excess = band_psd - floor
        # The band's power is the recording's mean power less the PSD outside the band: the window
        # weights the middle of the recording more than its ends, which does not matter for the
        # stationary noise outside but does for a signal whose envelope varies (FM, data).
        outside_power = (float(np.sum(psd, dtype=np.float64)) - float(np.sum(band_psd))) * bin_hz
        signal_power = mean_power - outside_power - floor * indices.size * bin_hz
    # A DC line: the 0 Hz bin (or its Hann neighbours) above the threshold for those few bins,
    # when it is not part of the signal's band (a carrier at 0 Hz cannot be told from DC).
    dc_bins = np.arange(-2, 3) % n
    if floor > 0 and not in_band[dc_bins].any():
        dc_spike = bool(psd[dc_bins].max() > floor * math.log(dc_bins.size / FALSE_ALARM_PROBABILITY))

    if band is None or signal_power <= 0:
        return IQMetrics(
            snr_db=None,
            frequency_offset_hz=None,
            signal_power_dbfs=None,
            noise_floor_dbfs=noise_floor_dbfs,
            occupied_bandwidth_hz=None,
            clipping_ratio=clipping_ratio,
            dc_spike=dc_spike,
            no_signal=True,
            samples_count=n,
            samples_count_mismatch=expected_samples is not None and expected_samples != n,
            algorithm_version=ALGORITHM_VERSION,
        )

    if carrier:  # the peak, between bins by a parabola through the log powers
        log_psd = np.log(psd[[(peak - 1) % n, peak, (peak + 1) % n]].astype(np.float64) + 1e-300)
        peak_bin = peak + _parabolic_peak(*log_psd)
    else:  # no carrier: the centre of the band's power
        weights = np.clip(excess, 0.0, None)
        peak_bin = float(np.sum(np.arange(lo, hi + 1) * weights) / np.sum(weights))
    offset_hz = (peak_bin % n) * bin_hz
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
