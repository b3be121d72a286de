"""Dagster resources: the TimescaleDB connection, the S3 / MinIO client, and the buckets."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import psycopg
from dagster import ConfigurableResource, EnvVar
from dagster_aws.s3 import S3Resource
from pydantic import Field

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.core.object_store import s3_client_config
from heimdall_pipeline.core.settings import DEFAULT_BUCKET, DEFAULT_DB_SCHEMA, IQ_CONCURRENCY_RANGE, db_schema
from heimdall_pipeline.ingest.measurement import MAX_OBJECT_BYTES
from heimdall_pipeline.iq.recordings import DEFAULT_IQ_CONCURRENCY, DEFAULT_MAX_RECORDING_BYTES
from heimdall_pipeline.lifecycle.alerts import DEFAULT_BURST_LIMIT, AlertSettings, secret_urls
from heimdall_pipeline.lifecycle.freshness import DEFAULT_RECEIVER_HOURS, DEFAULT_UPLOAD_HOURS, Thresholds
from heimdall_pipeline.schema.migrations import require_current_schema_once


class TimescaleResource(ConfigurableResource):
    """A TimescaleDB connection as one role. It never changes the schema (heimdall-migrate does):
    the first connection in a process checks the schema is current and fails with one line if not."""

    database_url: str = Field(description="libpq URL of the TimescaleDB database")
    db_schema: str = Field(
        default=DEFAULT_DB_SCHEMA,
        description="PostgreSQL schema holding heimdall-pipeline's tables (HEIMDALL_DB_SCHEMA); searched first, then public",
    )

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        schema = db_schema({"HEIMDALL_DB_SCHEMA": self.db_schema})  # validated: it goes into search_path
        with connect(self.database_url, schema=schema) as conn:
            require_current_schema_once(conn, self.database_url, schema)
            yield conn


class HeimdallS3Resource(S3Resource):
    """dagster-aws's S3Resource with a connection pool sized for concurrent GETs."""

    max_pool_connections: int = Field(default=32, description="HTTP connections kept to the S3 endpoint")
    max_object_bytes: int = Field(
        default=MAX_OBJECT_BYTES,
        description="metadata objects larger than this (by the listing's Size) are rejected as too_large, unread",
    )

    def get_client(self, min_pool_connections: int = 0):
        """A client with max_pool_connections, or min_pool_connections if more: one per reading thread."""
        session = boto3.session.Session(profile_name=self.profile_name)
        return session.client(
            "s3",
            region_name=self.region_name,
            endpoint_url=self.endpoint_url,
            use_ssl=self.use_ssl,
            verify=self.verify,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            aws_session_token=self.aws_session_token,
            config=s3_client_config(max(self.max_pool_connections, min_pool_connections), self.max_attempts),
        )


class HeimdallBuckets(ConfigurableResource):
    """Where Heimdall's raw objects are, and where reports and archives go (default: the raw bucket)."""

    raw: str = Field(default=DEFAULT_BUCKET, description="bucket Heimdall writes sessions/ to")
    reports: str = Field(default="", description="bucket for reports/ (empty: the raw bucket)")
    archive: str = Field(default="", description="bucket for archive/ (empty: the raw bucket)")

    @property
    def reports_bucket(self) -> str:
        return self.reports or self.raw

    @property
    def archive_bucket(self) -> str:
        return self.archive or self.raw


class IQRecordingsResource(ConfigurableResource):
    """How the iq_metrics asset reads the IQ recordings: memory is bounded by
    concurrency × max_recording_bytes (plus the samples being measured), whatever the day's size.

    The bounds are checked where the values are known: the settings check at load
    (HEIMDALL_IQ_CONCURRENCY, HEIMDALL_IQ_MAX_RECORDING_BYTES) and the library call. Not as
    pydantic bounds: Dagster validates an EnvVar field before it has its value, so `ge=1` refused
    every value set through the environment, the default included."""

    concurrency: int = Field(
        default=DEFAULT_IQ_CONCURRENCY,
        description=f"recordings read and measured at once (threads), {IQ_CONCURRENCY_RANGE[0]}–{IQ_CONCURRENCY_RANGE[1]}",
    )
    max_recording_bytes: int = Field(
        default=DEFAULT_MAX_RECORDING_BYTES,
        description="larger recordings are rejected as too_large, unread (1 KiB–256 MiB)",
    )


class AlertChannels(ConfigurableResource):
    """Where alerts go (heimdall_pipeline.lifecycle.alerts): a webhook, email over SMTP, both or none.
    Every field empty: alerts are off. Checked at load (AlertSettings.from_env) and again here."""

    webhook_url: str = Field(default="", description="Slack-compatible webhook (HEIMDALL_ALERT_WEBHOOK_URL); empty: off")
    smtp_host: str = Field(default="", description="SMTP server (HEIMDALL_ALERT_SMTP_HOST); empty: no email")
    smtp_port: int | None = Field(default=None, description="SMTP port; default 587 (starttls), 465 (ssl), 25 (none)")
    smtp_security: str = Field(default="starttls", description="starttls, ssl or none")
    smtp_user: str = Field(default="", description="SMTP login; empty: no login")
    smtp_password: str = Field(default="", description="SMTP password")
    smtp_from: str = Field(default="", description="sender address (default heimdall-pipeline@localhost)")
    smtp_to: str = Field(default="", description="recipients, comma-separated")
    ui_url: str = Field(default="", description="the Dagster UI's URL, for links to runs (HEIMDALL_UI_URL)")
    burst_limit: int = Field(default=DEFAULT_BURST_LIMIT, description="more alerts in one tick: one summary")

    def settings(self) -> AlertSettings:
        return AlertSettings.build(
            webhook_url=self.webhook_url,
            smtp_host=self.smtp_host,
            smtp_port=self.smtp_port,
            smtp_security=self.smtp_security,
            smtp_user=self.smtp_user,
            smtp_password=self.smtp_password,
            smtp_from=self.smtp_from,
            smtp_to=self.smtp_to,
            ui_url=self.ui_url,
            burst_limit=self.burst_limit,
            secret_urls=secret_urls(os.environ),  # the passwords this process knows, masked in every alert
        )


class FreshnessThresholds(ConfigurableResource):
    """How old the newest upload, and a receiver's newest measurement, may be (heimdall_pipeline.lifecycle.freshness)."""

    upload_hours: int = Field(default=DEFAULT_UPLOAD_HOURS, description="no upload for longer: uploads_arriving fails")
    receiver_hours: int = Field(
        default=DEFAULT_RECEIVER_HOURS, description="an active receiver unheard for longer: receivers_heard_recently fails"
    )

    def thresholds(self) -> Thresholds:
        return Thresholds.from_env(
            {
                "HEIMDALL_FRESHNESS_UPLOAD_HOURS": str(self.upload_hours),
                "HEIMDALL_FRESHNESS_RECEIVER_HOURS": str(self.receiver_hours),
            }
        )


def _env_or(name: str, default):
    """EnvVar when the variable is set, else the default: optional settings stay optional."""
    return EnvVar(name) if os.environ.get(name) else default


def _env_or_int(name: str, default: int | None):
    return EnvVar.int(name) if os.environ.get(name) else default


def resources_from_env() -> dict[str, ConfigurableResource]:
    """The resources the code location runs with, read from HEIMDALL_* / AWS_* variables."""
    return {
        # The pipeline role (DML) for ingest, checks and lifecycle; the read-only role for reports.
        "timescale": TimescaleResource(
            database_url=EnvVar("HEIMDALL_DATABASE_URL"),
            db_schema=_env_or("HEIMDALL_DB_SCHEMA", DEFAULT_DB_SCHEMA),
        ),
        # Retention's role: it alone writes archive records and drops archived days.
        "archiver": TimescaleResource(
            database_url=_env_or("HEIMDALL_ARCHIVER_DATABASE_URL", EnvVar("HEIMDALL_DATABASE_URL")),
            db_schema=_env_or("HEIMDALL_DB_SCHEMA", DEFAULT_DB_SCHEMA),
        ),
        "reader": TimescaleResource(
            database_url=_env_or("HEIMDALL_READER_DATABASE_URL", EnvVar("HEIMDALL_DATABASE_URL")),
            db_schema=_env_or("HEIMDALL_DB_SCHEMA", DEFAULT_DB_SCHEMA),
        ),
        "s3": HeimdallS3Resource(
            endpoint_url=_env_or("HEIMDALL_S3_ENDPOINT_URL", None),
            region_name=_env_or("AWS_REGION", "us-east-1"),
            aws_access_key_id=_env_or("AWS_ACCESS_KEY_ID", None),
            aws_secret_access_key=_env_or("AWS_SECRET_ACCESS_KEY", None),
        ),
        "iq_recordings": IQRecordingsResource(
            concurrency=_env_or_int("HEIMDALL_IQ_CONCURRENCY", DEFAULT_IQ_CONCURRENCY),
            max_recording_bytes=_env_or_int("HEIMDALL_IQ_MAX_RECORDING_BYTES", DEFAULT_MAX_RECORDING_BYTES),
        ),
        "buckets": HeimdallBuckets(
            raw=_env_or("HEIMDALL_S3_BUCKET", DEFAULT_BUCKET),
            reports=_env_or("HEIMDALL_REPORTS_BUCKET", ""),
            archive=_env_or("HEIMDALL_ARCHIVE_BUCKET", ""),
        ),
        # Alerts (the alerts sensor) and freshness (the freshness checks): off / defaults when unset.
        "alerts": AlertChannels(
            webhook_url=_env_or("HEIMDALL_ALERT_WEBHOOK_URL", ""),
            smtp_host=_env_or("HEIMDALL_ALERT_SMTP_HOST", ""),
            smtp_port=_env_or_int("HEIMDALL_ALERT_SMTP_PORT", None),
            smtp_security=_env_or("HEIMDALL_ALERT_SMTP_SECURITY", "starttls"),
            smtp_user=_env_or("HEIMDALL_ALERT_SMTP_USER", ""),
            smtp_password=_env_or("HEIMDALL_ALERT_SMTP_PASSWORD", ""),
            smtp_from=_env_or("HEIMDALL_ALERT_SMTP_FROM", ""),
            smtp_to=_env_or("HEIMDALL_ALERT_SMTP_TO", ""),
            ui_url=_env_or("HEIMDALL_UI_URL", _env_or("HEIMDALL_DAGSTER_URL", "")),
            burst_limit=_env_or_int("HEIMDALL_ALERT_BURST_LIMIT", DEFAULT_BURST_LIMIT),
        ),
        "freshness": FreshnessThresholds(
            upload_hours=_env_or_int("HEIMDALL_FRESHNESS_UPLOAD_HOURS", DEFAULT_UPLOAD_HOURS),
            receiver_hours=_env_or_int("HEIMDALL_FRESHNESS_RECEIVER_HOURS", DEFAULT_RECEIVER_HOURS),
        ),
    }
