"""heimdall-pipeline: Heimdall's WebSDR measurements from MinIO into TimescaleDB (README.md).

`save_measurements_to_timescaledb` is the worker API Heimdall calls (heimdall_pipeline.worker.api).
It is imported on first use, so importing any part of the package (a stage's library, the code
location, the Celery task) loads only what that part needs, and nothing here imports upward.
"""

from typing import Any

__all__ = ["save_measurements_to_timescaledb"]


def __getattr__(name: str) -> Any:
    if name == "save_measurements_to_timescaledb":
        from heimdall_pipeline.worker.api import save_measurements_to_timescaledb

        return save_measurements_to_timescaledb
    raise AttributeError(f"module 'heimdall_pipeline' has no attribute {name!r}")
