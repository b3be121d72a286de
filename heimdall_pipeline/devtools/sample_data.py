"""Realistic Heimdall objects for the demo, the tests and the benchmark.

Objects are byte-for-byte what Heimdall's `save_measurements_to_minio` writes (FORMAT.md):
`json.dumps(measurement, indent=2)` at `sessions/{task_id}/websdr_{id}_metadata.json`,
naive UTC `isoformat()` timestamps, `SignalMetrics` fields, and now and then the older
`metrics.power_dbm` variant. Receivers sometimes miss a session, as real ones do.

The IQ recordings (`.npy` siblings, `upload(..., with_iq=True)`) agree with the metadata beside
them: 125,000 complex64 samples of a tone at the metadata's frequency offset and SNR in complex
white Gaussian noise (iq_synth), except where the receiver did not hear the transmitter: receiver 7
(its antenna is down) and, now and then, any other. Their metadata still carries an SNR, as
Heimdall's does, but their recordings hold noise only. The same key gives the same bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import math
import random
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

RECEIVER_IDS = tuple(range(1, 8))
# Frequencies Heimdall tunes to: 2 m and 70 cm amateur bands.
FREQUENCIES_MHZ = (144.8, 145.5, 145.65, 432.1, 433.5, 435.0)
SAMPLE_RATE_KHZ = 12.5
SAMPLES_COUNT = 125_000
# Per-receiver character: mean SNR (dB) and oscillator error (ppm), stable across days.
RECEIVER_SNR_DB = {1: 18.0, 2: 12.0, 3: 22.0, 4: 15.0, 5: 9.0, 6: 11.0, 7: 6.0}
RECEIVER_PPM = {1: 0.08, 2: -0.15, 3: 0.02, 4: 0.11, 5: -0.05, 6: 0.2, 7: -0.12}
# The recordings' noise power (dBFS, full scale |x| = 1): the strongest tones stay 15 dB below full scale.
RECORDING_NOISE_DBFS = -50.0
# Receivers whose recordings hold noise only (an antenna down), whatever their metadata says.
DEAF_RECEIVERS = frozenset({7})
# The share of the other receivers' recordings in which the transmitter was not heard.
MISSED_SIGNAL_RATE = 0.05


@dataclass(frozen=True)
class SampleObject:
    key: str
    body: bytes
    expected_rejection: str | None = None  # the reason code a bad object must be rejected with


def metadata_key(task_id: str, websdr_id: int) -> str:
    return f"sessions/{task_id}/websdr_{websdr_id}_metadata.json"


def measurement_document(
    rng: random.Random, websdr_id: int, frequency_mhz: float, timestamp: datetime, old_format: bool = False
) -> dict:
    snr = round(rng.gauss(RECEIVER_SNR_DB[websdr_id], 4.0), 1)
    noise = round(rng.gauss(-65.5, 0.6), 1)
    offset = round(frequency_mhz * RECEIVER_PPM[websdr_id] + rng.gauss(0.0, 8.0), 1)
    signal = round(noise + snr, 1)
    if old_format:
        metrics = {"snr_db": snr, "frequency_offset_hz": offset, "power_dbm": signal}
    else:
        metrics = {
            "snr_db": snr,
            "psd_dbm": round(signal - 28.5, 1),
            "frequency_offset_hz": offset,
            "signal_power_dbm": signal,
            "noise_power_dbm": noise,
        }
    return {
        "websdr_id": websdr_id,
        "frequency_mhz": frequency_mhz,
        "sample_rate_khz": SAMPLE_RATE_KHZ,
        "samples_count": SAMPLES_COUNT,
        "timestamp_utc": timestamp.replace(tzinfo=None).isoformat(),
        "metrics": metrics,
    }


def encode(document) -> bytes:
    return json.dumps(document, indent=2).encode("utf-8")


def generate_day(
    day: date,
    sessions: int,
    seed: int = 0,
    miss_rate: float = 0.03,
    old_format_rate: float = 0.05,
    until: datetime | None = None,
) -> list[SampleObject]:
    """`sessions` acquisitions spread over the UTC day, each heard by (almost) all seven receivers.

    With `until` (the demo passes now), only the measurements stamped before it are kept, so none
    lies in the future; the rest of the day is generated all the same, so every kept object has
    the same bytes (and ETag) whenever `until` is, and a later call only adds newer ones.
    """
    rng = random.Random(f"{day.isoformat()}-{seed}")
    start_of_day = datetime.combine(day, time(0), tzinfo=UTC)
    objects = []
    for index in range(sessions):
        task_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        started = start_of_day + timedelta(seconds=(index + rng.random()) * 86_000 / max(sessions, 1))
        frequency = rng.choice(FREQUENCIES_MHZ)
        for websdr_id in RECEIVER_IDS:
            if rng.random() < miss_rate:
                continue
            timestamp = started + timedelta(seconds=websdr_id * 0.35, microseconds=rng.randrange(1_000_000))
            document = measurement_document(rng, websdr_id, frequency, timestamp, rng.random() < old_format_rate)
            if until is None or timestamp < until:
                objects.append(SampleObject(metadata_key(task_id, websdr_id), encode(document)))
    return objects


def bad_objects(day: date, seed: int = 0) -> list[SampleObject]:
    """One object per rejection reason, each with the reason code it must get."""
    rng = random.Random(f"bad-{day.isoformat()}-{seed}")
    noon = datetime.combine(day, time(12), tzinfo=UTC)

    def good(websdr_id: int = 1) -> dict:
        return measurement_document(rng, websdr_id, 145.5, noon + timedelta(seconds=rng.randrange(3600)))

    def task() -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def with_changes(changes: dict, metrics: dict | None = None) -> bytes:
        document = good()
        document.update(changes)
        document["metrics"].update(metrics or {})
        return encode(document)

    missing_frequency = good()
    del missing_frequency["frequency_mhz"]
    nan_snr = good()
    nan_snr["metrics"]["snr_db"] = float("nan")  # json.dumps writes NaN
    return [
        SampleObject(metadata_key(task(), 1), b'{"websdr_id": 1, "frequency_mhz": 14', "not_json"),
        SampleObject(metadata_key(task(), 1), b"", "not_json"),
        SampleObject(metadata_key(task(), 1), b"\xff\xfe{}", "not_utf8"),
        SampleObject(metadata_key(task(), 1), encode([good()]), "not_an_object"),
        SampleObject(metadata_key(task(), 1), encode(missing_frequency), "missing_field"),
        SampleObject(metadata_key(task(), 1), with_changes({"samples_count": "125000"}), "wrong_type"),
        SampleObject(metadata_key(task(), 1), encode(nan_snr), "not_finite"),
        SampleObject(metadata_key(task(), 2), encode(good(websdr_id=3)), "receiver_mismatch"),
        SampleObject(f"sessions/{task()}/websdr_x_metadata.json", encode(good()), "bad_key"),
        SampleObject(metadata_key(task(), 1), with_changes({"timestamp_utc": "22/10/2025 10:30"}), "bad_timestamp"),
        SampleObject(metadata_key(task(), 1), with_changes({"sample_rate_khz": 0}), "non_positive"),
        SampleObject(metadata_key(task(), 1), with_changes({"samples_count": -5}), "non_positive"),
        SampleObject(metadata_key(task(), 1), with_changes({"samples_count": 2**40}), "out_of_range"),
        SampleObject(metadata_key(task(), 1), with_changes({}, {"snr_db": 1e200}), "implausible"),
        SampleObject(metadata_key(task(), 1), with_changes({"timestamp_utc": "9999-12-31T23:00:00-05:00"}), "implausible"),
        SampleObject(metadata_key(task(), 1), with_changes({}).replace(b'"snr_db"', b'"snr_db": 2.0, "snr_db"'), "duplicate_key"),
        SampleObject(metadata_key(task(), 1), with_changes({"site": "Aosta\x00"}), "nul_character"),
    ]


def recording_key(metadata_key: str) -> str:
    """The `.npy` sibling of a metadata key: sessions/{task_id}/websdr_{id}.npy."""
    return metadata_key.removesuffix("_metadata.json") + ".npy"


def _recording_seed(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big")


def _finite_number(value) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    return None


def recording_truth(obj: SampleObject) -> tuple[float | None, float]:
    """(snr_db, offset_hz) of the tone in obj's recording; snr_db None: noise only.

    The metadata's own SNR and offset, unless the receiver did not hear the transmitter (deaf, a
    miss drawn from the key) or the object is not a readable measurement (the bad-object zoo).
    """
    try:
        document = json.loads(obj.body)
        metrics = document["metrics"]
        snr, offset = _finite_number(metrics["snr_db"]), _finite_number(metrics["frequency_offset_hz"])
        websdr_id = document["websdr_id"]
    except (ValueError, KeyError, TypeError):
        return None, 0.0
    # Beyond what a receiver records (the zoo's implausible values): noise only, like any rejected object.
    if snr is None or offset is None or not -40.0 <= snr <= 60.0 or not abs(offset) < SAMPLE_RATE_KHZ * 500:
        return None, 0.0
    if websdr_id in DEAF_RECEIVERS or random.Random(_recording_seed(obj.key)).random() < MISSED_SIGNAL_RATE:
        return None, offset
    return snr, offset


def iq_recording(obj: SampleObject) -> bytes:
    """The `np.save` of obj's recording: complex64, SAMPLES_COUNT samples at SAMPLE_RATE_KHZ."""
    import numpy as np

    from heimdall_pipeline.devtools.iq_synth import tone_in_noise

    snr, offset = recording_truth(obj)
    samples = tone_in_noise(
        SAMPLES_COUNT, SAMPLE_RATE_KHZ * 1000.0, snr, offset, seed=_recording_seed(obj.key), noise_dbfs=RECORDING_NOISE_DBFS
    )
    buffer = io.BytesIO()
    np.save(buffer, samples, allow_pickle=False)
    return buffer.getvalue()


def upload(s3, bucket: str, objects: list[SampleObject], concurrency: int = 16, with_iq: bool = False) -> int:
    """PUT the objects as Heimdall does (content type and user metadata); returns the number PUT.

    with_iq: also the `.npy` recording beside each metadata object (iq_recording, about 1 MB each).
    """

    def put(obj: SampleObject) -> int:
        s3.put_object(
            Bucket=bucket, Key=obj.key, Body=obj.body, ContentType="application/json", Metadata={"data_type": "metadata"}
        )
        if with_iq and obj.key.endswith("_metadata.json"):
            s3.put_object(
                Bucket=bucket,
                Key=recording_key(obj.key),
                Body=iq_recording(obj),
                ContentType="application/octet-stream",
                Metadata={"data_type": "iq_complex64"},
            )
            return 2
        return 1

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return sum(pool.map(put, objects))


def main(argv: list[str] | None = None) -> int:
    from heimdall_pipeline.core.object_store import s3_client_from_settings
    from heimdall_pipeline.core.settings import Settings, exit_on_config_error

    parser = argparse.ArgumentParser(description="Upload a realistic day of Heimdall objects to S3.")
    parser.add_argument("--day", type=date.fromisoformat, default=datetime.now(UTC).date())
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--bad", action="store_true", help="add one object per rejection reason")
    parser.add_argument("--with-iq", action="store_true", help="also PUT the .npy recordings (about 1 MB each)")
    args = parser.parse_args(argv)
    with exit_on_config_error("heimdall-seed"):
        settings = Settings.from_env()
    s3 = s3_client_from_settings(settings)
    objects = generate_day(args.day, args.sessions, args.seed)
    if args.bad:
        objects += bad_objects(args.day, args.seed)
    count = upload(s3, settings.s3_bucket, objects, with_iq=args.with_iq)
    print(f"uploaded {count} objects ({len(objects)} metadata) for {args.day} to s3://{settings.s3_bucket}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
