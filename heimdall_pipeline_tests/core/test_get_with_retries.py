"""The one GET loop (object_store.get_with_retries), against a scripted client: what each answer
ends in, and what each caller (metadata objects, recordings) asks of it."""

from __future__ import annotations

import io

import pytest
from botocore.exceptions import ClientError

from heimdall_pipeline.core.object_store import (
    CHANGED,
    FAILED,
    FETCHED,
    MISSING,
    TOO_LARGE,
    GetRetryPolicy,
    get_with_retries,
)

NO_WAIT = GetRetryPolicy(attempts=3, base_delay=0.0, max_delay=0.0)


class _Body(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.closed_unread = False

    def close(self) -> None:
        self.closed_unread = self.tell() == 0
        super().close()


def _error(code: str, status: int) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "GetObject")


def _ok(data: bytes, length: int | None = None, botocore_retries: int = 0) -> dict:
    response = {"Body": _Body(data), "ResponseMetadata": {"RetryAttempts": botocore_retries}}
    response["ContentLength"] = len(data) if length is None else length
    return response


class ScriptedS3:
    """Answers each GET with the next of `answers` (an exception is raised); keeps the requests."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[dict] = []

    def get_object(self, **request):
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer


def test_transient_errors_and_short_bodies_are_retried_and_counted():
    s3 = ScriptedS3(_error("SlowDown", 503), _ok(b"abc", length=10), _ok(b"body", botocore_retries=2))
    got = get_with_retries(s3, "b", "k", NO_WAIT)
    assert (got.outcome, got.body, got.size, got.retries) == (FETCHED, b"body", 4, 4)  # 2 ours, 2 botocore's


def test_a_transient_error_every_time_is_failed_after_the_attempts():
    s3 = ScriptedS3(*(ConnectionResetError("reset") for _ in range(3)))
    got = get_with_retries(s3, "b", "k", NO_WAIT)
    assert (got.outcome, got.error, got.retries) == (FAILED, "after 3 attempts: ConnectionResetError: reset", 2)


def test_a_permanent_error_is_failed_at_once():
    got = get_with_retries(ScriptedS3(_error("AccessDenied", 403)), "b", "k", NO_WAIT)
    assert got.outcome == FAILED and got.error.startswith("ClientError:") and got.retries == 0


def test_missing_is_what_the_caller_names_missing():
    assert get_with_retries(ScriptedS3(_error("NoSuchKey", 404)), "b", "k", NO_WAIT).outcome == MISSING
    assert get_with_retries(ScriptedS3(_error("NoSuchBucket", 404)), "b", "k", NO_WAIT).outcome == FAILED
    got = get_with_retries(ScriptedS3(_error("NoSuchBucket", 404)), "b", "k", NO_WAIT, missing_codes=("NoSuchBucket",))
    assert (got.outcome, got.code) == (MISSING, "NoSuchBucket")


def test_with_an_etag_only_that_version_is_read_and_a_change_is_changed():
    s3 = ScriptedS3(_error("PreconditionFailed", 412))
    assert get_with_retries(s3, "b", "k", NO_WAIT, etag="e1").outcome == CHANGED
    assert s3.requests == [{"Bucket": "b", "Key": "k", "IfMatch": '"e1"'}]
    # Without a precondition a 412 means nothing we asked for: an error like any other.
    assert get_with_retries(ScriptedS3(_error("PreconditionFailed", 412)), "b", "k", NO_WAIT).outcome == FAILED


@pytest.mark.parametrize("length", [11, None])
def test_a_body_over_max_bytes_is_too_large_and_left_unread_when_its_length_says_so(length):
    response = _ok(b"x" * 11)
    if length is None:
        del response["ContentLength"]
    got = get_with_retries(ScriptedS3(response), "b", "k", NO_WAIT, max_bytes=10)
    assert (got.outcome, got.size, got.body) == (TOO_LARGE, 11, None)
    assert response["Body"].closed_unread == (length is not None)
