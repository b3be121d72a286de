"""A stand-in for Heimdall's own Celery worker: an app that knows only Heimdall's task, on the broker
and default queue the environment names (HEIMDALL_STANDIN_BROKER_URL, _BACKEND, _QUEUE). Used by
test_celery_app.py to show two workers sharing one broker each run their own messages only."""

from __future__ import annotations

import os

from celery import Celery

app = Celery(
    "heimdall_standin",
    broker=os.environ["HEIMDALL_STANDIN_BROKER_URL"],
    backend=os.environ["HEIMDALL_STANDIN_BACKEND"],
    set_as_current=False,
)
app.conf.update(
    task_default_queue=os.environ["HEIMDALL_STANDIN_QUEUE"],  # Heimdall's default queue (`celery`)
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    broker_connection_retry_on_startup=True,
)


@app.task(name="src.tasks.acquire_iq.health_check_websdrs")
def health_check_websdrs() -> dict:
    return {"heimdall": "ran"}
