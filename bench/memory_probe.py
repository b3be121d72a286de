"""Peak RSS of one day's load (ours), in a process of its own so nothing else counts.

Runs `ingest.ingest_window` exactly as the `measurements` asset does and prints one JSON line:
peak RSS (VmHWM, MB), objects, rows inserted, seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.core.object_store import DEFAULT_CONCURRENCY, s3_client_from_settings
from heimdall_pipeline.core.settings import Settings
from heimdall_pipeline.ingest.uploads import ingest_window


def rss_mb(field: str = "VmHWM") -> float:
    """A memory figure of this process from /proc/self/status, in MB: VmHWM (peak RSS) or VmRSS."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--start", type=datetime.fromisoformat, required=True)
    parser.add_argument("--end", type=datetime.fromisoformat, required=True)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    s3 = s3_client_from_settings(settings, max_pool_connections=args.concurrency)
    with connect(args.database_url) as conn:
        listing, result = ingest_window(conn, s3, args.bucket, args.start, args.end, concurrency=args.concurrency)
    print(
        json.dumps(
            {"peak_rss_mb": rss_mb("VmHWM"), "objects": result.objects, "inserted": result.inserted, "seconds": result.seconds}
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
