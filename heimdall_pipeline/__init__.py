"""heimdall-pipeline: Heimdall's WebSDR measurement metadata from MinIO into TimescaleDB."""

from heimdall_pipeline.worker.api import save_measurements_to_timescaledb

__all__ = ["save_measurements_to_timescaledb"]
