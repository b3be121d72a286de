"""Peak RSS of computing one day's IQ recordings (ours), in a process of its own so nothing else counts.

Runs `iq_store.compute_and_store_day` exactly as the `iq_metrics` asset does (the day's measurements must be
loaded already) and prints one JSON line: peak RSS (VmHWM, MB) and the RSS before the run (the
interpreter with numpy, boto3 and psycopg imported), recordings, computed, seconds, peak in flight.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from memory_probe import rss_mb  # bench/ is this script's sys.path[0]

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.core.object_store import s3_client_from_settings
from heimdall_pipeline.core.settings import Settings
from heimdall_pipeline.iq.recordings import DEFAULT_IQ_CONCURRENCY
from heimdall_pipeline.iq.store import compute_and_store_day


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--start", type=datetime.fromisoformat, required=True)
    parser.add_argument("--end", type=datetime.fromisoformat, required=True)
    parser.add_argument("--concurrency", type=int, default=DEFAULT_IQ_CONCURRENCY)
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    s3 = s3_client_from_settings(settings, max_pool_connections=args.concurrency)
    with connect(args.database_url) as conn:
        before = rss_mb("VmRSS")
        result = compute_and_store_day(conn, s3, args.bucket, args.start, args.end, concurrency=args.concurrency)
    print(
        json.dumps(
            {
                "peak_rss_mb": rss_mb("VmHWM"),
                "rss_before_mb": before,
                "recordings": result.read,
                "computed": result.outcomes["computed"],
                "seconds": result.stats.seconds,
                "peak_in_flight": result.stats.peak_in_flight,
                "mb_read": result.stats.bytes / 1e6,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
