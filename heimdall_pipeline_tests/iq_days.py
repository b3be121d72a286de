"""A day of measurements with IQ recordings in the test bucket, ingested: what the iq_metrics tests start from.

Recordings are short (4,096 samples) tones in noise from iq_synth, so tests stay fast; the metadata
says 125,000 samples, so every computed row also carries the samples_count_mismatch flag.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from heimdall_pipeline.devtools.iq_synth import tone_in_noise
from heimdall_pipeline.devtools.sample_data import SAMPLE_RATE_KHZ, generate_day, upload
from heimdall_pipeline.ingest.uploads import ingest_window

DAY = date(2025, 10, 22)
TEST_SAMPLES = 4096


def npy_bytes(array: np.ndarray, allow_pickle: bool = False) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=allow_pickle)
    return buffer.getvalue()


def now_window() -> tuple[datetime, datetime]:
    now = datetime.now(UTC)
    return now - timedelta(hours=1), now + timedelta(hours=1)


@dataclass(frozen=True)
class IQDayRecording:
    key: str  # the .npy key
    task_id: str
    websdr_id: int
    stored_snr_db: float
    stored_offset_hz: float


def recording_key(metadata_key: str) -> str:
    return metadata_key.replace("_metadata.json", ".npy")


def upload_day_with_recordings(
    s3, bucket: str, sessions: int, *, agree: bool = True, seed: int = 0, day: date = DAY
) -> list[IQDayRecording]:
    """Metadata objects plus, beside each, a recording whose tone has the SNR and offset the
    metadata states (agree=True) or a tone 20 dB weaker and 400 Hz away (agree=False)."""
    objects = generate_day(day, sessions=sessions, seed=seed, miss_rate=0.0, old_format_rate=0.0)
    upload(s3, bucket, objects)
    recordings = []
    for index, obj in enumerate(objects):
        document = json.loads(obj.body)
        snr, offset = document["metrics"]["snr_db"], document["metrics"]["frequency_offset_hz"]
        tone_snr, tone_offset = (snr, offset) if agree else (snr - 20.0, offset + 400.0)
        samples = tone_in_noise(TEST_SAMPLES, SAMPLE_RATE_KHZ * 1000.0, tone_snr, tone_offset, seed=index)
        key = recording_key(obj.key)
        s3.put_object(Bucket=bucket, Key=key, Body=npy_bytes(samples))
        task_id = obj.key.split("/")[1]
        recordings.append(IQDayRecording(key, task_id, document["websdr_id"], snr, offset))
    return recordings


def ingest(db, s3, bucket: str) -> tuple[datetime, datetime]:
    """Load the bucket's metadata; the window of the uploads (now ± 1 h)."""
    start, end = now_window()
    _, result = ingest_window(db, s3, bucket, start, end)
    assert result.failed == 0 and result.rejected == 0
    return start, end
