"""Listing and fetching Heimdall's metadata objects from S3 / MinIO through boto3.

Keys do not sort by time (task ids are random UUIDs), so a day's objects are found by their
LastModified, over a full listing of `sessions/`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime

import boto3
from botocore.config import Config

SESSIONS_PREFIX = "sessions/"
METADATA_SUFFIX = "_metadata.json"
DEFAULT_CONCURRENCY = 16


@dataclass(frozen=True, slots=True)
class ObjectInfo:
    key: str
    etag: str
    size_bytes: int
    last_modified: datetime


@dataclass(frozen=True, slots=True)
class FetchedObject:
    info: ObjectInfo
    body: bytes | None
    error: str | None = None  # why the GET failed, when it did


def make_s3_client(
    endpoint_url: str | None = None,
    region: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    max_pool_connections: int = DEFAULT_CONCURRENCY,
):
    """A boto3 S3 client; `endpoint_url` points it at MinIO (or moto), None at AWS."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=Config(
            max_pool_connections=max_pool_connections,
            retries={"max_attempts": 5, "mode": "standard"},
            s3={"addressing_style": "path"},
            signature_version="s3v4",  # presigned report links: SigV4, as MinIO and AWS expect
        ),
    )


def s3_client_from_settings(settings, max_pool_connections: int = DEFAULT_CONCURRENCY):
    """`make_s3_client` for the HEIMDALL_S3_* / AWS_* settings (`settings.Settings`)."""
    return make_s3_client(
        settings.s3_endpoint_url,
        settings.aws_region,
        settings.aws_access_key_id,
        settings.aws_secret_access_key,
        max_pool_connections=max_pool_connections,
    )


def iter_metadata_objects(
    s3, bucket: str, start: datetime | None = None, end: datetime | None = None, prefix: str = SESSIONS_PREFIX
) -> Iterator[ObjectInfo]:
    """Metadata objects whose LastModified lies in [start, end) (either bound may be None).

    Objects named like metadata but outside Heimdall's key layout are yielded too, so the
    loader can reject them with a reason instead of silently skipping them.
    """
    paginator = s3.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": 1000}):
        for entry in page.get("Contents", ()):
            key = entry["Key"]
            if not key.endswith(METADATA_SUFFIX):
                continue
            last_modified = entry["LastModified"]
            if start is not None and last_modified < start:
                continue
            if end is not None and last_modified >= end:
                continue
            yield ObjectInfo(key, entry["ETag"].strip('"'), entry["Size"], last_modified)


def fetch_objects(
    s3, bucket: str, infos: Iterable[ObjectInfo], concurrency: int = DEFAULT_CONCURRENCY
) -> Iterator[FetchedObject]:
    """GET objects concurrently, yielding each as it arrives (not in input order).

    At most `2 * concurrency` requests are in flight, so memory stays bounded however many
    objects a day holds. A failed GET is yielded with its error instead of raising.
    """

    def get(info: ObjectInfo) -> FetchedObject:
        try:
            response = s3.get_object(Bucket=bucket, Key=info.key, IfMatch=f'"{info.etag}"')
            return FetchedObject(info, response["Body"].read())
        except Exception as error:  # noqa: BLE001 - the object is reported, the batch goes on
            return FetchedObject(info, None, f"{type(error).__name__}: {error}")

    pending: set[Future] = set()
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="s3-get") as pool:
        for info in infos:
            if len(pending) >= 2 * concurrency:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
            pending.add(pool.submit(get, info))
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()



@dataclass(frozen=True)
class ListingSlice:
    objects: list[ObjectInfo]  # metadata objects only, in key order
    last_key: str | None  # the last key listed (any kind); resume after it
    reached_end: bool  # no keys after last_key under the prefix


def list_slice(s3, bucket: str, start_after: str, max_pages: int, prefix: str = SESSIONS_PREFIX) -> ListingSlice:
    """At most `max_pages` LIST requests (1,000 keys each) in key order, after `start_after`.

    A bounded piece of a full listing: successive slices cover the whole prefix.
    """
    objects: list[ObjectInfo] = []
    last_key: str | None = None
    kwargs = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": 1000}
    if start_after:
        kwargs["StartAfter"] = start_after
    for _ in range(max_pages):
        page = s3.list_objects_v2(**kwargs)
        for entry in page.get("Contents", ()):
            last_key = entry["Key"]
            if last_key.endswith(METADATA_SUFFIX):
                objects.append(ObjectInfo(last_key, entry["ETag"].strip('"'), entry["Size"], entry["LastModified"]))
        if not page.get("IsTruncated"):
            return ListingSlice(objects, last_key, reached_end=True)
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
        kwargs.pop("StartAfter", None)
    return ListingSlice(objects, last_key, reached_end=False)
