"""Validating `.npy` recordings before loading them: each kind of bad file gets its reason, and a
pickled object array never runs (fast, no services)."""

from __future__ import annotations

import io
import pathlib
import struct

import numpy as np
import pytest

from heimdall_pipeline.ingest.measurement import RejectedObject, recording_location
from heimdall_pipeline.iq.recordings import MAX_HEADER_SIZE, RejectedRecording, parse_npy
from heimdall_pipeline_tests.iq_days import npy_bytes


class TouchesAFileWhenUnpickled:
    """Unpickling this calls Path.touch(path): the side effect a hostile recording would have."""

    def __init__(self, path: pathlib.Path):
        self.path = path

    def __reduce__(self):
        return (pathlib.Path.touch, (self.path,))


def hostile_recording(path: pathlib.Path) -> bytes:
    array = np.empty(3, dtype=object)
    array[:] = [TouchesAFileWhenUnpickled(path)] * 3
    return npy_bytes(array, allow_pickle=True)


def rejection(data: bytes) -> RejectedRecording:
    with pytest.raises(RejectedRecording) as caught:
        parse_npy(data)
    return caught.value


def test_a_complex64_recording_loads_as_its_samples():
    samples = (np.arange(1000) * (1 + 2j)).astype(np.complex64)
    loaded = parse_npy(npy_bytes(samples))
    assert loaded.dtype == np.complex64
    np.testing.assert_array_equal(loaded, samples)


def test_complex128_is_accepted_and_big_endian_too():
    samples = np.exp(1j * np.linspace(0, 10, 500))
    np.testing.assert_array_equal(parse_npy(npy_bytes(samples)), samples)
    swapped = samples.astype(">c8")
    np.testing.assert_array_equal(parse_npy(npy_bytes(swapped)), swapped)


def test_a_pickled_object_array_is_rejected_without_being_unpickled(tmp_path):
    target = tmp_path / "pwned"
    payload = hostile_recording(target)

    assert rejection(payload).code == "object_array"
    assert not target.exists()

    # The payload is live: numpy with allow_pickle=True would have run it.
    control = tmp_path / "control"
    np.load(io.BytesIO(hostile_recording(control)), allow_pickle=True)
    assert control.exists()


@pytest.mark.parametrize(
    ("array", "code"),
    [
        (np.zeros(100, dtype=np.float32), "wrong_dtype"),
        (np.zeros(100, dtype=np.int16), "wrong_dtype"),
        (np.zeros(100, dtype=np.complex256) if hasattr(np, "complex256") else np.zeros(100, dtype="U3"), "wrong_dtype"),
        (np.zeros((2, 50), dtype=np.complex64), "not_1d"),
        (np.asfortranarray(np.zeros((50, 2), dtype=np.complex64)), "not_1d"),
        (np.zeros((), dtype=np.complex64), "not_1d"),
        (np.zeros(4, dtype=[("i", "<f4"), ("q", "<f4")]), "wrong_dtype"),
    ],
)
def test_arrays_that_are_not_1d_complex_samples_are_rejected(array, code):
    assert rejection(npy_bytes(array)).code == code


def test_a_truncated_recording_says_how_many_bytes_it_lacks():
    data = npy_bytes(np.zeros(1000, dtype=np.complex64))
    rejected = rejection(data[:-100])
    assert rejected.code == "truncated"
    assert f"{len(data) - 100} bytes, the header announces {len(data)}" in rejected.detail


def test_bytes_after_the_samples_are_rejected():
    assert rejection(npy_bytes(np.zeros(10, dtype=np.complex64)) + b"extra").code == "trailing_bytes"


def test_a_huge_header_is_refused_before_it_is_parsed():
    header = b"{'descr': '<c8', 'fortran_order': False, 'shape': (10,), " + b" " * 60_000 + b"}\n"
    data = b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header + bytes(80)
    assert len(header) > MAX_HEADER_SIZE
    assert rejection(data).code == "bad_header"


def test_files_that_are_not_npy_are_rejected():
    assert rejection(b"PK\x03\x04 a zip, not a recording").code == "not_npy"
    assert rejection(b"").code == "not_npy"
    assert rejection(b"\x93NUMPY\x01\x00\x10\x00{'descr'").code == "bad_header"  # ends inside the header
    assert rejection(b"\x93NUMPY\x09\x00rest").code == "not_npy"  # an unknown format version


def test_s3_paths_name_their_bucket_or_the_default_one():
    assert recording_location("s3://raw/sessions/t/websdr_1.npy", "raw", "t") == ("raw", "sessions/t/websdr_1.npy")
    assert recording_location("sessions/t/websdr_1.npy", "raw", "t") == ("raw", "sessions/t/websdr_1.npy")


@pytest.mark.parametrize(
    ("path", "code"),
    [
        ("s3://someone-elses-bucket/sessions/t/websdr_1_iq.npy", "foreign_bucket"),  # was read with our credentials
        ("s3://raw/sessions/t/../other/websdr_1_iq.npy", "bad_s3_path"),
        ("s3://raw/sessions/t/./websdr_1_iq.npy", "bad_s3_path"),
        ("s3://raw/sessions/t//websdr_1_iq.npy", "bad_s3_path"),
        ("s3://raw/sessions/other-task/websdr_1_iq.npy", "task_mismatch"),
        ("s3://raw/elsewhere/websdr_1_iq.npy", "task_mismatch"),
        ("s3://bucket-only", "foreign_bucket"),
        ("https://example.invalid/x.npy", "bad_s3_path"),
        ("s3://raw/sessions/t/" + "a" * 10_000_000, "path_too_long"),
    ],
)
def test_a_recording_is_read_only_from_its_own_acquisition_in_the_raw_bucket(path, code):
    with pytest.raises(RejectedObject) as rejected:
        recording_location(path, "raw", "t")
    assert rejected.value.code == code and len(rejected.value.reason) <= 300


def test_numpy_scalars_are_stored_as_plain_python_values():
    from heimdall_pipeline.iq.store import _plain

    assert _plain(np.True_) is True and _plain(False) is False
    assert _plain(np.int32(7)) == 7 and type(_plain(np.int64(7))) is int
    assert type(_plain(np.float32(1.5))) is float
    assert _plain(float("nan")) is None and _plain(np.inf) is None and _plain(None) is None


def _with_header(header: str, payload: bytes = b"") -> bytes:
    """An .npy 1.0 file with exactly this header text (padded as numpy pads it)."""
    text = header.encode("latin1")
    padding = 64 - (10 + len(text) + 1) % 64
    text += b" " * padding + b"\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text + payload


@pytest.mark.parametrize(
    ("header", "code"),
    [
        # numpy's own header parser raised tokenize.TokenError, IndexError or TypeError on these.
        ("{'descr': '<c8', 'fortran_order': False, 'shape': (3,", "bad_header"),
        ("{'descr': (), 'fortran_order': False, 'shape': (3,), }", "wrong_dtype"),
        ("{'descr': '<c8', 'fortran_order': False, 'shape': (True,), }", "bad_header"),
        ("{'descr': '<c8', 'fortran_order': 'no', 'shape': (3,), }", "bad_header"),
        ("{'descr': '<c8', 'fortran_order': False, 'shape': (-3,), }", "bad_header"),
        ("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), 'extra': 1}", "bad_header"),
        ("{'descr': [('a', '<c8')], 'fortran_order': False, 'shape': (3,), }", "wrong_dtype"),
        ("{'descr': [('a', 'O')], 'fortran_order': False, 'shape': (3,), }", "object_array"),
        ("{'descr': 'not a dtype', 'fortran_order': False, 'shape': (3,), }", "wrong_dtype"),
        ("__import__('os').system('touch /tmp/x')", "bad_header"),
        ("[" * 5_000 + "]" * 5_000, "bad_header"),
        ("{'descr': '<c8', 'fortran_order': False, 'shape': (3,), }\x00", "bad_header"),
    ],
)
def test_every_malformed_header_is_a_rejection_never_an_exception(header, code):
    caught = rejection(_with_header(header, bytes(24)))
    assert caught.code == code and len(caught.reason) <= 300
