"""The peer: dlt loading the same metadata objects from the same S3 endpoint into PostgreSQL.

Built the way dlt's filesystem docs show (`filesystem(...) | transformer`, postgres destination).
Heimdall's objects are pretty-printed JSON, one document per file, so `read_jsonl` cannot read
them; the transformer `json.loads` each whole file. Run as a subprocess from a temporary working
directory (dlt reads `.dlt/` from the cwd and keeps pipeline state in `pipelines_dir`), so it
leaves nothing in the repository. Credentials come from AWS_* in the environment. Prints one JSON line: seconds, rows.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time


def make_transformer(parallelized: bool):
    import dlt

    @dlt.transformer(name="measurements", parallelized=parallelized)
    def read_whole_json(items):
        # One list per page of files (the docs recommend yielding lists for speed).
        yield [json.loads(item.read_bytes()) for item in items]

    return read_whole_json


def run(args: argparse.Namespace) -> dict:
    import dlt
    from dlt.sources.credentials import AwsCredentials
    from dlt.sources.filesystem import filesystem

    credentials = AwsCredentials(
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
        region_name=os.environ.get("AWS_REGION") or "us-east-1",
        endpoint_url=args.endpoint_url,
    )
    with tempfile.TemporaryDirectory(prefix="heimdall-bench-dlt-") as pipelines_dir:
        started = time.perf_counter()
        files = filesystem(bucket_url=f"s3://{args.bucket}/sessions", credentials=credentials, file_glob="**/*_metadata.json")
        pipeline = dlt.pipeline(
            pipeline_name="heimdall_bench",
            destination=dlt.destinations.postgres(credentials=args.database_url),
            dataset_name="heimdall_dlt",
            pipelines_dir=pipelines_dir,
        )
        info = pipeline.run(files | make_transformer(args.parallelized))
        seconds = time.perf_counter() - started
        info.raise_on_failed_jobs()
        rows = pipeline.last_trace.last_normalize_info.row_counts.get("measurements", 0)
    return {"seconds": seconds, "rows": rows}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--endpoint-url", required=True)
    parser.add_argument("--parallelized", action="store_true")
    result = run(parser.parse_args(argv))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
