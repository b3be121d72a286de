"""Reading IQ recordings (`np.save` files beside the metadata) from S3, safely, concurrently.

Every recording is validated from its `.npy` header before its samples are touched: the format
version, the header's size (numpy's `max_header_size`), the dtype (complex64 or complex128; an
object dtype is refused before anything could unpickle it), the shape (1-D), and its size against
the object's Content-Length. Only then is it loaded, with `np.load(..., allow_pickle=False)`.

Concurrency: a pool of `concurrency` threads, each GETs one recording, validates it, computes its
metrics, and drops the body and the samples before taking the next. So at most `concurrency`
bodies are held at once, whatever the day's size; the results handed back are a few numbers each.
scipy's FFT and numpy's array loops release the GIL, so computing overlaps fetching.
"""

from __future__ import annotations

import ast
import io
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from heimdall_pipeline.core import object_store
from heimdall_pipeline.core.object_store import DEFAULT_GET_RETRY, GetRetryPolicy, describe_error, get_with_retries
from heimdall_pipeline.core.settings import IQ_CONCURRENCY_RANGE, IQ_MAX_RECORDING_BYTES_RANGE
from heimdall_pipeline.ingest.measurement import RejectedObject, recording_location
from heimdall_pipeline.iq.metrics import InvalidRecording, IQMetrics, compute_iq_metrics

DEFAULT_IQ_CONCURRENCY = 8
# A recording of 125,000 complex64 samples is 1,000,128 bytes; 16 MiB leaves room for longer ones
# and still bounds memory to concurrency × 16 MiB (plus the samples) in the worst case.
DEFAULT_MAX_RECORDING_BYTES = 16 * 1024 * 1024
# numpy's own default (np.lib.format): a longer header is refused as possibly hostile.
MAX_HEADER_SIZE = 10_000
# complex64 is what Heimdall writes; complex128 is the same samples at double precision, accepted.
ACCEPTED_DTYPES = ("complex64", "complex128")

# Statuses of a recording (iq_metrics.status).
COMPUTED, REJECTED, MISSING, FAILED = "computed", "rejected", "missing", "failed"


class RejectedRecording(Exception):
    """A recording that is not a usable 1-D complex array: `code: detail` goes to iq_metrics.reason."""

    def __init__(self, code: str, detail: str):
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.detail}"


@dataclass(frozen=True, slots=True)
class RecordingRequest:
    """One measurement whose recording is to be read (a row of `measurements`)."""

    task_id: str
    websdr_id: int
    timestamp_utc: datetime
    s3_path: str | None
    samples_count: int  # what the metadata says
    sample_rate_hz: float


@dataclass(frozen=True, slots=True)
class RecordingResult:
    request: RecordingRequest
    status: str  # COMPUTED, REJECTED, MISSING or FAILED
    reason: str | None = None
    metrics: IQMetrics | None = None
    recording_bytes: int | None = None
    retries: int = 0


_HEADER_KEYS = {"descr", "fortran_order", "shape"}
_MAGIC = b"\x93NUMPY"


def read_npy_header(data: bytes, max_header_size: int = MAX_HEADER_SIZE) -> tuple[tuple[int, ...], bool, np.dtype, int]:
    """(shape, fortran_order, dtype, offset of the data) from an `.npy` file's header, read with a
    strict literal parser of our own, never numpy's (whose parser raises TokenError, IndexError or
    TypeError on some malformed headers). Anything that is not exactly a dict of a plain dtype
    string, a bool and a tuple of non-negative ints is RejectedRecording."""
    if data[:6] != _MAGIC or len(data) < 10:
        raise RejectedRecording("not_npy", "the file does not start with the .npy magic string")
    major, minor = data[6], data[7]
    if (major, minor) == (1, 0):
        length, start, encoding = int.from_bytes(data[8:10], "little"), 10, "latin1"
    elif (major, minor) == (2, 0):
        length, start, encoding = int.from_bytes(data[8:12], "little"), 12, "latin1"
    else:
        raise RejectedRecording("not_npy", f"format version {major}.{minor} is not 1.0 or 2.0")
    if length > max_header_size:
        raise RejectedRecording("bad_header", f"a header of {length:,} bytes, over {max_header_size:,}")
    if len(data) < start + length:
        raise RejectedRecording("bad_header", "the file ends inside its header")
    text = data[start : start + length].decode(encoding)
    try:
        header = ast.literal_eval(text)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError) as error:
        raise RejectedRecording("bad_header", f"not a Python literal: {type(error).__name__}: {str(error)[:120]}") from None
    if not isinstance(header, dict) or set(header) != _HEADER_KEYS:
        raise RejectedRecording("bad_header", f"not a dict of {sorted(_HEADER_KEYS)}: {text[:120]!r}")
    descr, fortran_order, shape = header["descr"], header["fortran_order"], header["shape"]
    if not isinstance(descr, str):
        raise RejectedRecording(
            "object_array" if "O" in repr(descr) else "wrong_dtype",
            f"descr {repr(descr)[:80]} is not a plain dtype string; never loaded",
        )
    if not isinstance(fortran_order, bool):
        raise RejectedRecording("bad_header", f"fortran_order {repr(fortran_order)[:40]} is not a bool")
    if not isinstance(shape, tuple) or not all(type(n) is int and n >= 0 for n in shape):
        raise RejectedRecording("bad_header", f"shape {repr(shape)[:80]} is not a tuple of non-negative ints")
    try:
        dtype = np.dtype(descr)
    except (TypeError, ValueError) as error:
        raise RejectedRecording("wrong_dtype", f"descr {descr[:60]!r}: {str(error)[:100]}") from None
    return shape, fortran_order, dtype, start + length


def parse_npy(data: bytes, max_header_size: int = MAX_HEADER_SIZE) -> np.ndarray:
    """The 1-D complex samples of an `.npy` file's bytes, or RejectedRecording saying why not.

    The header is read and checked first (read_npy_header); `np.load` with allow_pickle=False runs
    only on a file whose header says a plain 1-D complex array of exactly the bytes present. Any
    other failure on the way is a rejection too: one bad recording never stops the others.
    """
    try:
        shape, fortran_order, dtype, offset = read_npy_header(data, max_header_size)
    except RejectedRecording:
        raise
    except Exception as error:  # a backstop: whatever a header does, it is rejected
        raise RejectedRecording("bad_header", describe_error(error)) from None
    if dtype.hasobject:
        raise RejectedRecording("object_array", f"dtype {dtype.str!r} holds Python objects (pickles); never loaded")
    if len(shape) != 1:
        raise RejectedRecording("not_1d", f"shape {shape} (fortran_order={fortran_order}); expected 1-D samples")
    if dtype.kind != "c" or dtype.name not in ACCEPTED_DTYPES:
        raise RejectedRecording("wrong_dtype", f"dtype {dtype.str!r}; expected complex64 (or complex128)")
    expected = offset + shape[0] * dtype.itemsize
    if len(data) < expected:
        raise RejectedRecording("truncated", f"{len(data)} bytes, the header announces {expected} ({shape[0]} samples)")
    if len(data) > expected:
        raise RejectedRecording("trailing_bytes", f"{len(data)} bytes, the header announces {expected}")
    try:
        samples = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as error:  # numpy's own reader disagreeing with ours: rejected, not raised
        raise RejectedRecording("unreadable", describe_error(error)) from None
    return samples


class InFlightGauge:
    """Bodies held right now and the most held at once (the memory bound, measured)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.current = 0
        self.peak = 0

    def __enter__(self) -> InFlightGauge:
        with self._lock:
            self.current += 1
            self.peak = max(self.peak, self.current)
        return self

    def __exit__(self, *exc) -> None:
        with self._lock:
            self.current -= 1


@dataclass(frozen=True, slots=True)
class _Fetched:
    outcome: str  # COMPUTED (a body), REJECTED, MISSING, FAILED
    body: bytes | None
    reason: str | None
    size: int | None
    retries: int


def get_recording(s3, bucket: str, key: str, max_bytes: int, retry: GetRetryPolicy = DEFAULT_GET_RETRY) -> _Fetched:
    """GET one recording's body (object_store.get_with_retries). Never raises. A recording larger
    than `max_bytes` (by its Content-Length) is not read: REJECTED. No such key or bucket: MISSING."""
    got = get_with_retries(s3, bucket, key, retry, max_bytes=max_bytes, missing_codes=("NoSuchKey", "NoSuchBucket"))
    if got.outcome == object_store.FETCHED:
        return _Fetched(COMPUTED, got.body, None, got.size, got.retries)
    if got.outcome == object_store.TOO_LARGE:
        reason = f"too_large: {got.size} bytes, more than the limit of {max_bytes}"
        return _Fetched(REJECTED, None, reason, got.size, got.retries)
    if got.outcome == object_store.MISSING:
        return _Fetched(MISSING, None, f"missing_object: s3://{bucket}/{key[:200]}: {got.code}", None, got.retries)
    return _Fetched(FAILED, None, got.error, None, got.retries)


def read_and_compute(
    s3,
    default_bucket: str,
    request: RecordingRequest,
    max_bytes: int = DEFAULT_MAX_RECORDING_BYTES,
    retry: GetRetryPolicy = DEFAULT_GET_RETRY,
    gauge: InFlightGauge | None = None,
) -> RecordingResult:
    """One recording: GET, validate, load, compute. Never raises; the body is dropped on return."""
    if not request.s3_path:
        return RecordingResult(request, MISSING, "no_s3_path: the measurement names no recording")
    try:  # only this acquisition's recording, in the configured bucket: checked before any GET
        bucket, key = recording_location(request.s3_path, default_bucket, request.task_id)
    except RejectedObject as rejected:
        return RecordingResult(request, REJECTED, rejected.reason)
    with gauge or InFlightGauge():
        fetched = get_recording(s3, bucket, key, max_bytes, retry)
        if fetched.outcome != COMPUTED:
            return RecordingResult(request, fetched.outcome, fetched.reason, None, fetched.size, fetched.retries)
        assert fetched.body is not None  # a COMPUTED fetch carries its body
        try:
            samples = parse_npy(fetched.body)
        except RejectedRecording as rejected:
            return RecordingResult(request, REJECTED, rejected.reason, None, fetched.size, fetched.retries)
        size, retries = fetched.size, fetched.retries
        del fetched  # the samples are a copy: let the body go before the FFTs
        try:
            metrics = compute_iq_metrics(samples, request.sample_rate_hz, expected_samples=request.samples_count)
        except InvalidRecording as invalid:  # all zeros, NaNs, too short: data it cannot measure
            return RecordingResult(request, REJECTED, " ".join(str(invalid).split())[:300], None, size, retries)
        except Exception as error:  # a bug in the algorithm, not bad data: say so, go on
            return RecordingResult(request, REJECTED, f"internal_error: {describe_error(error)}", None, size, retries)
        del samples
    return RecordingResult(request, COMPUTED, None, metrics, size, retries)


@dataclass
class ReadStats:
    recordings: int = 0
    bytes: int = 0
    retries: int = 0
    seconds: float = 0.0
    peak_in_flight: int = 0


def read_recordings(
    s3,
    default_bucket: str,
    requests: Iterable[RecordingRequest],
    concurrency: int = DEFAULT_IQ_CONCURRENCY,
    max_bytes: int = DEFAULT_MAX_RECORDING_BYTES,
    retry: GetRetryPolicy = DEFAULT_GET_RETRY,
    stats: ReadStats | None = None,
) -> Iterator[RecordingResult]:
    """`read_and_compute` for each request on `concurrency` threads, yielding results as they finish.

    At most `concurrency` bodies are held at once (one per thread); at most 2 × `concurrency`
    requests are queued, so the requests may be a lazy iterable of any length.
    """
    low, high = IQ_CONCURRENCY_RANGE
    if not low <= concurrency <= high:
        raise ValueError(f"concurrency must be from {low} to {high}, got {concurrency}")
    low, high = IQ_MAX_RECORDING_BYTES_RANGE
    if not low <= max_bytes <= high:
        raise ValueError(f"max_bytes must be from {low} to {high}, got {max_bytes}")
    stats = stats if stats is not None else ReadStats()
    gauge = InFlightGauge()
    started = time.perf_counter()

    def work(request: RecordingRequest) -> RecordingResult:
        return read_and_compute(s3, default_bucket, request, max_bytes, retry, gauge)

    def account(result: RecordingResult) -> RecordingResult:
        stats.recordings += 1
        stats.bytes += result.recording_bytes or 0
        stats.retries += result.retries
        return result

    pending: set[Future] = set()
    try:
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="iq-get") as pool:
            for request in requests:
                if len(pending) >= 2 * concurrency:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield account(future.result())
                pending.add(pool.submit(work, request))
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield account(future.result())
    finally:
        stats.seconds = time.perf_counter() - started
        stats.peak_in_flight = gauge.peak
