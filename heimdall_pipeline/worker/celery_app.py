"""Heimdall's Celery task `heimdall_pipeline.save_measurements` (the `worker` extra).

Heimdall sends it by name, without importing this package:

    app.send_task("heimdall_pipeline.save_measurements", args=[task_id, measurements, s3_paths])

and gets back the answer of worker_api.save_measurements_to_timescaledb (status SUCCESS / PARTIAL /
FAILED, `retryable`, counts, rejections) plus `retries`. A FAILED answer that is retryable (the
database unreachable or failing transiently) is retried with exponential backoff and jitter, up to
HEIMDALL_CELERY_MAX_RETRIES times; nothing else is. The message is acknowledged after the task
ran (acks_late) and given back if the worker dies mid-task; a task whose broker restarts under it
runs to its end instead of being cancelled. The load is idempotent, so running a message twice
inserts nothing twice.

Start a worker with `heimdall-celery-worker [celery worker options]`, or
`celery -A heimdall_pipeline.worker.celery_app worker`. Importing this module does not import Dagster,
pandas, matplotlib or pyarrow.
"""

from __future__ import annotations

import logging
import math
import os
import random
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

try:
    from celery import Celery, states
    from celery.worker.consumer import Consumer
except ModuleNotFoundError as error:  # the package installed without its `worker` extra
    raise ModuleNotFoundError(
        "heimdall_pipeline.worker.celery_app needs Celery: pip install 'heimdall-pipeline[worker]'", name=error.name
    ) from error

from heimdall_pipeline.core.settings import ConfigError, Settings, exit_on_config_error, redact_url
from heimdall_pipeline.worker.api import (
    FAILED,
    failed_answer,
    heimdall_fields,
    save_measurements_to_timescaledb,
    shown_task_id,
)

TASK_NAME = "heimdall_pipeline.save_measurements"
DEFAULT_MAX_RETRIES = 10
DEFAULT_RETRY_BACKOFF_SECONDS = 2.0
DEFAULT_RETRY_BACKOFF_MAX_SECONDS = 300.0
# Our own queue: on Heimdall's broker, a worker consuming Heimdall's default `celery` queue would
# receive Heimdall's tasks, which it does not know, and discard them (and Heimdall's worker ours).
DEFAULT_QUEUE = "heimdall-pipeline"
_QUEUE_NAME = re.compile(r"[A-Za-z0-9._:-]{1,200}")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CelerySettings:
    """The worker's broker, result backend and retry policy, from HEIMDALL_CELERY_* variables."""

    broker_url: str
    result_backend: str | None
    queue: str
    max_retries: int
    retry_backoff_seconds: float
    retry_backoff_max_seconds: float

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CelerySettings:
        env = os.environ if environ is None else environ
        broker_url = (env.get("HEIMDALL_CELERY_BROKER_URL") or "").strip()
        if not broker_url:
            raise ConfigError(
                "HEIMDALL_CELERY_BROKER_URL is not set: Heimdall's Celery broker (amqp://... for RabbitMQ, "
                "redis://... for Redis); `make up` writes the local RabbitMQ's to .devstack/env"
            )
        result_backend = (env.get("HEIMDALL_CELERY_RESULT_BACKEND") or "").strip() or None
        for name, url in (("HEIMDALL_CELERY_BROKER_URL", broker_url), ("HEIMDALL_CELERY_RESULT_BACKEND", result_backend)):
            if url is not None and "://" not in url:
                raise ConfigError(f"{name} must be a URL such as redis://host:6379/0, got {redact_url(url)!r}")
        queue = (env.get("HEIMDALL_CELERY_QUEUE") or DEFAULT_QUEUE).strip()
        if not _QUEUE_NAME.fullmatch(queue):
            raise ConfigError(f"HEIMDALL_CELERY_QUEUE must be a queue name (letters, digits, . _ : -), got {queue[:60]!r}")
        return cls(
            broker_url=broker_url,
            result_backend=result_backend,
            queue=queue,
            max_retries=_number(env, "HEIMDALL_CELERY_MAX_RETRIES", DEFAULT_MAX_RETRIES, int),
            retry_backoff_seconds=_number(env, "HEIMDALL_CELERY_RETRY_BACKOFF_SECONDS", DEFAULT_RETRY_BACKOFF_SECONDS, float),
            retry_backoff_max_seconds=_number(
                env, "HEIMDALL_CELERY_RETRY_BACKOFF_MAX_SECONDS", DEFAULT_RETRY_BACKOFF_MAX_SECONDS, float
            ),
        )


def _number(env: Mapping[str, str], name: str, default: float, kind: type) -> Any:
    value = (env.get(name) or "").strip()
    if not value:
        return kind(default)
    try:
        number = kind(value)
    except ValueError:
        number = -1
    if not (number >= 0 and math.isfinite(number)):
        raise ConfigError(f"{name} must be a {'whole ' if kind is int else ''}number >= 0, got {value!r}")
    return number


def retry_delay(retries: int, base_seconds: float, max_seconds: float, rng: random.Random | None = None) -> float:
    """Seconds before retry number `retries + 1`: base·2^retries capped at max, then "equal jitter"
    (uniform in its upper half) so workers that failed together do not come back together."""
    ceiling = min(max_seconds, base_seconds * 2 ** min(retries, 60))
    return (rng or random).uniform(ceiling / 2, ceiling)


@cache
def celery_settings() -> CelerySettings:
    return CelerySettings.from_env()


def _celery_config() -> dict[str, Any]:
    settings = celery_settings()
    return {
        "broker_url": settings.broker_url,
        "result_backend": settings.result_backend,
        # The worker consumes this queue unless -Q says otherwise; Heimdall routes the task here with
        # task_routes = {"heimdall_pipeline.save_measurements": {"queue": "heimdall-pipeline"}}.
        "task_default_queue": settings.queue,
        "task_routes": {TASK_NAME: {"queue": settings.queue}},
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        # acks_late: a worker holds only the message it runs, so a dead worker gives back one.
        "worker_prefetch_multiplier": 1,
        # A task whose broker connection is lost runs to its end. Cancelling it (True) marked its id
        # revoked in the worker, which then discarded the very message the broker gave back after a
        # restart: the acquisition was lost. Running on, its rows are stored; if the broker still
        # redelivers the message (its ack went to the lost connection), the load is idempotent.
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "broker_connection_retry_on_startup": True,
        "worker_consumer": f"{__name__}:AnsweringConsumer",
    }


# Heimdall's acquisition id, when the body is too broken to decode but starts as our task's does.
_LEADING_TASK_ID = re.compile(r'\s*\[\s*\[\s*"([A-Za-z0-9._:-]{1,200})"')


class AnsweringConsumer(Consumer):
    """Celery's consumer, except that a message of our task whose body cannot be decoded (invalid
    JSON, nesting deeper than the decoder's recursion limit) gets a FAILED answer in the result
    backend. Celery only logs it and acknowledges it, so the caller waited for an answer that never came."""

    def on_decode_error(self, message, exc):
        super().on_decode_error(message, exc)  # the CRITICAL line, and the ack
        headers = message.headers if isinstance(message.headers, dict) else {}
        message_id = headers.get("id")
        if headers.get("task") != TASK_NAME or not isinstance(message_id, str) or self.app.conf.result_backend is None:
            return
        body = message.body[:400]
        match = _LEADING_TASK_ID.match(body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body))
        error = f"the message body cannot be decoded as JSON: {str(exc)[:200]}"
        task_id = match.group(1) if match else None
        answer = {**failed_answer(error, retryable=False), **heimdall_fields(task_id, 0, 0), "retries": 0}
        try:
            self.app.backend.store_result(message_id, answer, states.SUCCESS)
        except Exception:  # the answer is a courtesy; the worker must go on
            logger.exception("could not store the answer to undecodable message %s", message_id[:80])


app = Celery("heimdall_pipeline", set_as_current=False)
app.add_defaults(_celery_config)  # read when the configuration is first used, not at import


@app.task(name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def save_measurements(
    self, task_id: str, measurements: list[dict[str, Any]], s3_paths: dict[int | str, str] | None = None
) -> dict[str, Any]:
    """Heimdall's call by name, with its own task's arguments (task_id, measurements, s3_paths):
    worker_api's answer plus `retries` (how many retries it took)."""
    result = save_measurements_to_timescaledb(task_id, measurements, s3_paths)
    retries = self.request.retries
    if result["status"] == FAILED and result["retryable"]:
        settings = celery_settings()
        if retries < settings.max_retries:
            delay = retry_delay(retries, settings.retry_backoff_seconds, settings.retry_backoff_max_seconds)
            logger.warning(
                "task %s: retry %d of %d in %.2f s: %s",
                shown_task_id(task_id),
                retries + 1,
                settings.max_retries,
                delay,
                result["error"],
            )
            raise self.retry(countdown=delay, max_retries=settings.max_retries)
        logger.error("task %s: still failing after %d retries; giving up: %s", shown_task_id(task_id), retries, result["error"])
    return {**result, "retries": retries}


def main(argv: list[str] | None = None) -> None:
    """`heimdall-celery-worker [celery worker options]`: checks the settings (one line if one is
    wrong), then runs `celery worker` on this app."""
    argv = sys.argv[1:] if argv is None else argv
    with exit_on_config_error("heimdall-celery-worker"):
        celery_settings()
        Settings.from_env()  # the database URL: wrong at start, not at the first task
    app.worker_main(["worker", *argv])


if __name__ == "__main__":
    main()
