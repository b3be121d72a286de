"""Where notifications wait: an SQS queue (AWS S3's native target) or MinIO's PostgreSQL target.

Both hand out a batch and forget it only when told (`ack`), after the ledger has committed what
the batch says: a consumer that dies in between leaves the batch to come back (SQS after its
visibility timeout, the table at once), and the ledger makes the second time harmless.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import psycopg

from heimdall_pipeline.core.db import read_sql

SQS_BATCH = 10  # ReceiveMessage and DeleteMessageBatch take at most 10


@dataclass(frozen=True)
class Delivery:
    body: str | dict  # the notification as delivered (SQS: text; the table: parsed JSONB)
    handle: object  # what `ack` needs to forget it


class EventSource(Protocol):
    name: str

    def receive(self, max_messages: int, wait_seconds: float) -> list[Delivery]: ...

    def ack(self, deliveries: list[Delivery]) -> None: ...


class SqsQueue:
    """An SQS queue that S3 notifies (a QueueConfigurations entry on the bucket)."""

    def __init__(self, sqs, queue_url: str, visibility_timeout: int = 60):
        self.sqs = sqs
        self.queue_url = queue_url
        self.visibility_timeout = visibility_timeout
        self.name = f"sqs:{queue_url.rsplit('/', 1)[-1]}"

    def receive(self, max_messages: int, wait_seconds: float) -> list[Delivery]:
        deliveries: list[Delivery] = []
        wait = int(max(0, min(20, wait_seconds)))
        while len(deliveries) < max_messages:
            response = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(SQS_BATCH, max_messages - len(deliveries)),
                WaitTimeSeconds=0 if deliveries else wait,  # long-poll for the first, then take what is there
                VisibilityTimeout=self.visibility_timeout,
            )
            messages = response.get("Messages", [])
            deliveries += [Delivery(m.get("Body", ""), m["ReceiptHandle"]) for m in messages]
            if len(messages) < SQS_BATCH:
                break
        return deliveries

    def ack(self, deliveries: list[Delivery]) -> None:
        for start in range(0, len(deliveries), SQS_BATCH):
            batch = deliveries[start : start + SQS_BATCH]
            entries = [{"Id": str(index), "ReceiptHandle": d.handle} for index, d in enumerate(batch)]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)


class MinioEventTable:
    """The `s3_events` table that MinIO's PostgreSQL target (format `access`) appends to."""

    name = "minio:s3_events"

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def receive(self, max_messages: int, wait_seconds: float) -> list[Delivery]:
        # No long poll: the consumer's loop sleeps between empty reads; a read is one index scan.
        with self.conn.cursor() as cur:
            cur.execute(read_sql("ingest/events/minio_receive.sql"), {"limit": max_messages})
            return [Delivery(event_data, event_id) for event_id, event_data in cur.fetchall()]

    def ack(self, deliveries: list[Delivery]) -> None:
        if deliveries:
            with self.conn.transaction(), self.conn.cursor() as cur:
                cur.execute(read_sql("ingest/events/minio_ack.sql"), {"ids": [d.handle for d in deliveries]})
