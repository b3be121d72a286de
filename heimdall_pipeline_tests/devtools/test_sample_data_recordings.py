"""The demo's and tests' IQ recordings agree with the metadata beside them (pure logic, no services)."""

from __future__ import annotations

import io
import json
from datetime import date

import numpy as np
import pytest

from heimdall_pipeline.devtools.sample_data import (
    DEAF_RECEIVERS,
    RECORDING_NOISE_DBFS,
    SAMPLE_RATE_KHZ,
    SAMPLES_COUNT,
    bad_objects,
    generate_day,
    iq_recording,
    recording_key,
    recording_truth,
)
from heimdall_pipeline.iq.metrics import compute_iq_metrics

DAY = date(2025, 10, 22)


def _load(body: bytes) -> np.ndarray:
    return np.load(io.BytesIO(body), allow_pickle=False)


@pytest.fixture(scope="module")
def day():
    return generate_day(DAY, sessions=12, seed=4)


def test_a_recording_is_heimdalls_format_beside_its_metadata(day):
    obj = day[0]
    samples = _load(iq_recording(obj))

    assert samples.dtype == np.complex64 and samples.shape == (SAMPLES_COUNT,)
    assert recording_key(obj.key) == obj.key.removesuffix("_metadata.json") + ".npy"
    assert recording_key("sessions/t/websdr_3_metadata.json") == "sessions/t/websdr_3.npy"


def test_recomputed_metrics_agree_with_the_metadata_or_find_no_signal(day):
    heard = deaf = 0
    for obj in day:
        metrics = json.loads(obj.body)["metrics"]
        snr, offset = recording_truth(obj)
        measured = compute_iq_metrics(_load(iq_recording(obj)), SAMPLE_RATE_KHZ * 1000, SAMPLES_COUNT)
        assert measured.noise_floor_dbfs == pytest.approx(RECORDING_NOISE_DBFS, abs=0.1)
        if snr is None:
            assert measured.no_signal, obj.key
            deaf += obj.key.endswith(tuple(f"websdr_{r}_metadata.json" for r in DEAF_RECEIVERS))
            continue
        heard += 1
        assert (snr, offset) == (metrics["snr_db"], metrics["frequency_offset_hz"])
        assert not measured.no_signal, obj.key
        assert measured.frequency_offset_hz == pytest.approx(offset, abs=1.0)
        assert measured.snr_db == pytest.approx(snr, abs=0.5 if snr >= 0 else 1.0)
    assert heard > 0.7 * len(day) and deaf > 0


def test_deaf_receivers_still_carry_heimdalls_snr_but_record_noise_only(day):
    deaf = [o for o in day if json.loads(o.body)["websdr_id"] in DEAF_RECEIVERS]
    assert deaf
    for obj in deaf:
        assert isinstance(json.loads(obj.body)["metrics"]["snr_db"], float)
        assert recording_truth(obj)[0] is None


def test_unreadable_metadata_gets_a_noise_only_recording_of_the_usual_size():
    unreadable = {"not_json", "not_utf8", "not_an_object", "not_finite"}
    absurd_snr = [o for o in bad_objects(DAY) if b'"snr_db": 1e+200' in o.body]
    zoo = [o for o in bad_objects(DAY) if o.expected_rejection in unreadable] + absurd_snr
    assert {o.expected_rejection for o in zoo} == unreadable | {"implausible"}
    for obj in zoo:
        assert recording_truth(obj)[0] is None, obj.expected_rejection
        assert _load(iq_recording(obj)).shape == (SAMPLES_COUNT,)


def test_the_same_object_gives_the_same_bytes_and_another_object_others(day):
    again = generate_day(DAY, sessions=12, seed=4)

    assert iq_recording(again[1]) == iq_recording(day[1])
    assert iq_recording(day[2]) != iq_recording(day[1])
