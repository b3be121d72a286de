-- One recording's outcome; a later computation (a new algorithm version, a new recording) replaces it.
INSERT INTO iq_metrics (
    task_id, websdr_id, timestamp_utc, s3_path, status, reason,
    snr_db, frequency_offset_hz, signal_power_dbfs, noise_floor_dbfs, occupied_bandwidth_hz,
    clipping_ratio, dc_spike, no_signal, samples_count, samples_count_mismatch,
    recording_bytes, algorithm_version, computed_at
) VALUES (
    %(task_id)s, %(websdr_id)s, %(timestamp_utc)s, %(s3_path)s, %(status)s, %(reason)s,
    %(snr_db)s, %(frequency_offset_hz)s, %(signal_power_dbfs)s, %(noise_floor_dbfs)s, %(occupied_bandwidth_hz)s,
    %(clipping_ratio)s, %(dc_spike)s, %(no_signal)s, %(samples_count)s, %(samples_count_mismatch)s,
    %(recording_bytes)s, %(algorithm_version)s, now()
)
ON CONFLICT (task_id, websdr_id, timestamp_utc) DO UPDATE SET
    s3_path = EXCLUDED.s3_path, status = EXCLUDED.status, reason = EXCLUDED.reason,
    snr_db = EXCLUDED.snr_db, frequency_offset_hz = EXCLUDED.frequency_offset_hz,
    signal_power_dbfs = EXCLUDED.signal_power_dbfs, noise_floor_dbfs = EXCLUDED.noise_floor_dbfs,
    occupied_bandwidth_hz = EXCLUDED.occupied_bandwidth_hz, clipping_ratio = EXCLUDED.clipping_ratio,
    dc_spike = EXCLUDED.dc_spike, no_signal = EXCLUDED.no_signal, samples_count = EXCLUDED.samples_count,
    samples_count_mismatch = EXCLUDED.samples_count_mismatch, recording_bytes = EXCLUDED.recording_bytes,
    algorithm_version = EXCLUDED.algorithm_version, computed_at = EXCLUDED.computed_at
