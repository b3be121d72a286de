"""Hand-built and generated measurements for the analytics, lifecycle and worker tests."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, time, timedelta

from heimdall_pipeline.devtools.sample_data import FREQUENCIES_MHZ, RECEIVER_IDS, measurement_document
from heimdall_pipeline.ingest.measurement import Measurement


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def measurement(
    task_id: str,
    websdr_id: int,
    timestamp: datetime,
    snr_db: float | None,
    offset_hz: float | None = 0.0,
    frequency_mhz: float = 145.5,
    power_dbm: float | None = -60.0,
) -> Measurement:
    return Measurement(
        task_id=task_id,
        websdr_id=websdr_id,
        frequency_mhz=frequency_mhz,
        sample_rate_khz=12.5,
        samples_count=125_000,
        timestamp_utc=timestamp,
        snr_db=snr_db,
        frequency_offset_hz=offset_hz,
        power_dbm=power_dbm,
        s3_path=f"s3://heimdall-raw-iq/sessions/{task_id}/websdr_{websdr_id}.npy",
    )


def realistic_day(day: date, sessions: int, seed: int = 0) -> list[Measurement]:
    """Sessions at random times of the day on random frequencies, most receivers reporting."""
    rng = random.Random(f"{day}-{seed}")
    start = datetime.combine(day, time(0), tzinfo=UTC)
    rows = []
    for _ in range(sessions):
        task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        frequency = rng.choice(FREQUENCIES_MHZ)
        timestamp = start + timedelta(microseconds=rng.randrange(86_400 * 10**6))
        for websdr_id in RECEIVER_IDS:
            if rng.random() < 0.1:
                continue
            document = measurement_document(rng, websdr_id, frequency, timestamp + timedelta(milliseconds=websdr_id))
            rows.append(Measurement.from_measurement_dict(task_id, document))
    return rows


def heimdall_acquisition(task_id: str, count: int = 7) -> list[dict]:
    """One acquisition's measurement dicts as Heimdall's acquire_iq builds them (receivers 1..count),
    each naming its recording under sessions/<task_id>/: what the worker API and the Celery task get."""
    return [
        {
            "websdr_id": websdr_id,
            "frequency_mhz": 145.5,
            "sample_rate_khz": 12.5,
            "samples_count": 125000,
            "timestamp_utc": f"2025-10-22T10:30:4{websdr_id}.123456",
            "metrics": {"snr_db": 10.0 + websdr_id, "frequency_offset_hz": -1.5, "signal_power_dbm": -55.0},
            "iq_data_path": f"s3://heimdall-raw-iq/sessions/{task_id}/websdr_{websdr_id}.npy",
        }
        for websdr_id in range(1, count + 1)
    ]
