"""Listing and fetching Heimdall's metadata objects from S3 / MinIO through boto3.

Keys do not sort by time (task ids are random UUIDs), so a day's objects are found by their
LastModified, over a full listing of `sessions/`.
"""

from __future__ import annotations

import http.client
import random
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime

import boto3
import urllib3.exceptions
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError, IncompleteReadError
from botocore.exceptions import ConnectionError as BotocoreConnectionError

SESSIONS_PREFIX = "sessions/"
METADATA_SUFFIX = "_metadata.json"
DEFAULT_CONCURRENCY = 16
MAX_ERROR_LENGTH = 300

# What a GET can end in (GetResult.outcome; FetchedObject.outcome, never TOO_LARGE there).
FETCHED, MISSING, CHANGED, TOO_LARGE, FAILED = "fetched", "missing", "changed", "too_large", "failed"
# Error responses worth another try: the server or the network had a bad moment.
_TRANSIENT_HTTP_STATUS = frozenset({500, 502, 503, 504})
_TRANSIENT_ERROR_CODES = frozenset(
    {
        "InternalError",
        "ServiceUnavailable",
        "SlowDown",
        "RequestTimeout",
        "Throttling",
        "ThrottlingException",
        "RequestLimitExceeded",
        "TooManyRequests",
        "RequestTimeTooSkewed",
    }
)


class ShortBodyError(Exception):
    """The body ended before its Content-Length: a connection cut mid-transfer."""


# Exceptions of a GET that a retry can cure: resets, timeouts, bodies cut short.
_TRANSIENT_EXCEPTIONS = (
    HTTPClientError,  # ConnectionClosedError, ReadTimeoutError, ResponseStreamingError, ...
    BotocoreConnectionError,  # EndpointConnectionError, ConnectTimeoutError
    IncompleteReadError,  # botocore's own Content-Length check on read()
    ShortBodyError,
    urllib3.exceptions.HTTPError,  # ProtocolError ('Connection broken: IncompleteRead'), ...
    http.client.HTTPException,
    ConnectionError,  # ConnectionResetError, BrokenPipeError
    TimeoutError,
)


def is_transient_client_error(error: ClientError) -> bool:
    """An S3 error response worth another try (5xx, throttling, ...)."""
    code = str(error.response.get("Error", {}).get("Code", ""))
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status in _TRANSIENT_HTTP_STATUS or code in _TRANSIENT_ERROR_CODES


@dataclass(frozen=True)
class GetRetryPolicy:
    """Bounded retries of one object's GET within a run: exponential backoff with full jitter.

    botocore's own retries (the client's `max_attempts`) come first, for errors before the body;
    these cover what botocore does not retry: a body cut short or a reset while reading it, and
    whatever botocore gave up on.
    """

    attempts: int = 6
    base_delay: float = 0.2  # seconds before the first retry, at most; doubles each time
    max_delay: float = 5.0

    def delay(self, retry: int) -> float:
        return random.uniform(0.0, min(self.max_delay, self.base_delay * 2**retry))


DEFAULT_GET_RETRY = GetRetryPolicy()


# Keys PostgreSQL text cannot hold (a NUL byte; a lone surrogate) or that S3's listing could not
# decode (U+FFFD replacing bytes that were not UTF-8) are kept in the ledger under this prefix plus
# their `unicode_escape` form. Every listed key starts with sessions/, so no real key collides.
UNSTORABLE_KEY_PREFIX = "unstorable-key:"


def is_storable_key(key: str) -> bool:
    """Whether the ledger can keep `key` as it is (text without NUL, valid UTF-8, nothing replaced)."""
    if "\x00" in key or "\ufffd" in key:
        return False
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def ledger_key(key: str) -> str:
    """`key` as the ledger stores it: itself, or for an unstorable key `unstorable-key:` + its
    `unicode_escape` form (ASCII, reversible: `original_key` gives the key back)."""
    if is_storable_key(key):
        return key
    return UNSTORABLE_KEY_PREFIX + key.encode("unicode_escape").decode("ascii")


def original_key(stored: str) -> str:
    """The S3 key of a ledger `object_key` (the inverse of `ledger_key`)."""
    if stored.startswith(UNSTORABLE_KEY_PREFIX):
        return stored[len(UNSTORABLE_KEY_PREFIX) :].encode("ascii").decode("unicode_escape")
    return stored


def unstorable_key_reason(key: str) -> str:
    """The ledger reason of an unstorable key: what is wrong, and how to get at the object."""
    what = "a NUL byte" if "\x00" in key else "characters that are not valid UTF-8"
    return (
        f"bad_key: the key has {what}, which the ledger cannot store as text; it is kept escaped as "
        f"object_key '{ledger_key(key)[:200]}' (heimdall_pipeline.core.object_store.original_key gives the S3 key back)"
    )


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
    outcome: str = FETCHED  # FETCHED, MISSING (NoSuchKey), CHANGED (ETag no longer matches) or FAILED
    retries: int = 0  # retries this GET took, botocore's included (as it reports them)


def describe_error(error: BaseException) -> str:
    """`Type: message`, at most MAX_ERROR_LENGTH characters (it goes to the ledger and to Dagster)."""
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= MAX_ERROR_LENGTH else text[: MAX_ERROR_LENGTH - 1] + "…"


def retry_attempts(metadata_holder: dict) -> int:
    return int(metadata_holder.get("ResponseMetadata", {}).get("RetryAttempts", 0) or 0)


@dataclass(frozen=True, slots=True)
class GetResult:
    outcome: str  # FETCHED, MISSING, CHANGED, TOO_LARGE or FAILED
    body: bytes | None = None  # FETCHED only
    error: str | None = None  # why not FETCHED: the (last) error, described
    code: str | None = None  # S3's error code of a MISSING one (NoSuchKey, ...)
    size: int | None = None  # the body's bytes: of a FETCHED body, or what a TOO_LARGE one announced
    retries: int = 0  # retries this GET took, botocore's included (as it reports them)


def get_with_retries(
    s3,
    bucket: str,
    key: str,
    retry: GetRetryPolicy = DEFAULT_GET_RETRY,
    *,
    etag: str | None = None,
    max_bytes: int | None = None,
    missing_codes: Iterable[str] = ("NoSuchKey",),
) -> GetResult:
    """GET one object's body, retrying transient errors (`retry`); the one GET loop of the project.

    Never raises. An error code in `missing_codes` is MISSING. With `etag`, only that version is
    read (If-Match): PreconditionFailed (the object changed) is CHANGED. With `max_bytes`, a larger
    body is TOO_LARGE, left unread when its Content-Length says so. A body shorter than its
    Content-Length is retried. A transient error after `retry.attempts` tries, or any other error,
    is FAILED.
    """
    request = {"Bucket": bucket, "Key": key}
    if etag is not None:
        request["IfMatch"] = f'"{etag}"'
    missing_codes = frozenset(missing_codes)
    retries = 0
    last_error: BaseException | None = None
    for attempt in range(retry.attempts):
        if attempt:
            time.sleep(retry.delay(attempt - 1))
            retries += 1
        try:
            response = s3.get_object(**request)
            retries += retry_attempts(response)
            size = response.get("ContentLength")
            if max_bytes is not None and size is not None and size > max_bytes:
                response["Body"].close()
                return GetResult(TOO_LARGE, size=size, retries=retries)
            body = response["Body"].read()
            if size is not None and len(body) != size:
                raise ShortBodyError(f"body has {len(body)} of its {size} bytes")
            if max_bytes is not None and len(body) > max_bytes:  # no Content-Length to check first
                return GetResult(TOO_LARGE, size=len(body), retries=retries)
            return GetResult(FETCHED, body, size=len(body), retries=retries)
        except ClientError as error:
            retries += retry_attempts(error.response)
            code = str(error.response.get("Error", {}).get("Code", ""))
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code in missing_codes:
                return GetResult(MISSING, error=describe_error(error), code=code, retries=retries)
            if etag is not None and (code == "PreconditionFailed" or status == 412):
                return GetResult(CHANGED, error=describe_error(error), retries=retries)
            if is_transient_client_error(error):
                last_error = error
                continue
            return GetResult(FAILED, error=describe_error(error), retries=retries)
        except _TRANSIENT_EXCEPTIONS as error:
            last_error = error
        except Exception as error:  # the object is reported, the batch goes on
            return GetResult(FAILED, error=describe_error(error), retries=retries)
    assert last_error is not None
    return GetResult(FAILED, error=f"after {retry.attempts} attempts: {describe_error(last_error)}", retries=retries)


def get_object(s3, bucket: str, info: ObjectInfo, retry: GetRetryPolicy = DEFAULT_GET_RETRY) -> FetchedObject:
    """GET a listed metadata object's body, only if its ETag is still the listed one (get_with_retries).

    Never raises: NoSuchKey is MISSING, PreconditionFailed (the object changed since listing) is
    CHANGED, a transient error after `retry.attempts` tries or any other error is FAILED.
    """
    got = get_with_retries(s3, bucket, info.key, retry, etag=info.etag)
    return FetchedObject(info, got.body, got.error, got.outcome, got.retries)


def head_object(s3, bucket: str, key: str) -> ObjectInfo | None:
    """The object's current ETag, size and LastModified; None when it no longer exists."""
    try:
        response = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code", "")) in {"404", "NoSuchKey", "NotFound"}:
            return None
        raise
    return ObjectInfo(key, response["ETag"].strip('"'), response["ContentLength"], response["LastModified"])


def make_s3_client(
    endpoint_url: str | None = None,
    region: str | None = None,
    access_key_id: str | None = None,
    secret_access_key: str | None = None,
    max_pool_connections: int = DEFAULT_CONCURRENCY,
    botocore_retries: int = 5,
):
    """A boto3 S3 client; `endpoint_url` points it at MinIO (or moto), None at AWS.

    `botocore_retries`: botocore's own retries per request (standard mode), under GetRetryPolicy's.
    """
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id=access_key_id,
        aws_secret_access_key=secret_access_key,
        config=s3_client_config(max_pool_connections, botocore_retries),
    )


def s3_client_config(max_pool_connections: int, max_attempts: int) -> Config:
    """The botocore settings of every S3 client here (make_s3_client and the Dagster resource)."""
    return Config(
        max_pool_connections=max_pool_connections,
        retries={"max_attempts": max_attempts, "mode": "standard"},
        s3={"addressing_style": "path"},  # MinIO and moto serve path-style URLs
        signature_version="s3v4",  # presigned report links: SigV4, as MinIO and AWS expect
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
    s3,
    bucket: str,
    infos: Iterable[ObjectInfo],
    concurrency: int = DEFAULT_CONCURRENCY,
    retry: GetRetryPolicy = DEFAULT_GET_RETRY,
) -> Iterator[FetchedObject]:
    """GET objects concurrently (`get_object`, with its retries), yielding each as it arrives.

    At most `2 * concurrency` requests are in flight, so memory stays bounded however many
    objects a day holds. A failed GET is yielded with its outcome and error instead of raising.
    """

    def get(info: ObjectInfo) -> FetchedObject:
        return get_object(s3, bucket, info, retry)

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
    pages: int = 0  # LIST requests made


def list_slice(s3, bucket: str, start_after: str, max_pages: int, prefix: str = SESSIONS_PREFIX) -> ListingSlice:
    """At most `max_pages` LIST requests (1,000 keys each) in key order, after `start_after`.

    A bounded piece of a full listing: successive slices cover the whole prefix.
    """
    objects: list[ObjectInfo] = []
    last_key: str | None = None
    kwargs = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": 1000}
    if start_after:
        kwargs["StartAfter"] = start_after
    for page_number in range(1, max_pages + 1):
        page = s3.list_objects_v2(**kwargs)
        for entry in page.get("Contents", ()):
            last_key = entry["Key"]
            if last_key.endswith(METADATA_SUFFIX):
                objects.append(ObjectInfo(last_key, entry["ETag"].strip('"'), entry["Size"], entry["LastModified"]))
        if not page.get("IsTruncated"):
            return ListingSlice(objects, last_key, reached_end=True, pages=page_number)
        kwargs["ContinuationToken"] = page["NextContinuationToken"]
        kwargs.pop("StartAfter", None)
    return ListingSlice(objects, last_key, reached_end=False, pages=max_pages)
