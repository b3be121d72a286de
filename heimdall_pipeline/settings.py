"""Settings read from the environment: the same variables `make up` writes to `.devstack/env`."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_BUCKET = "heimdall-raw-iq"
DEFAULT_PIPELINE_ROLE = "heimdall_pipeline"
DEFAULT_READER_ROLE = "heimdall_reader"


@dataclass(frozen=True)
class Settings:
    database_url: str
    s3_endpoint_url: str | None
    s3_bucket: str
    reports_bucket: str
    archive_bucket: str
    aws_access_key_id: str | None
    aws_secret_access_key: str | None
    aws_region: str

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "Settings":
        env = os.environ if environ is None else environ
        database_url = env.get("HEIMDALL_DATABASE_URL")
        if not database_url:
            raise RuntimeError(
                "HEIMDALL_DATABASE_URL is not set: run `make up` and load .devstack/env, "
                "or point it at your TimescaleDB (see README, Configuration)"
            )
        bucket = env.get("HEIMDALL_S3_BUCKET") or DEFAULT_BUCKET
        return cls(
            database_url=database_url,
            s3_endpoint_url=env.get("HEIMDALL_S3_ENDPOINT_URL") or None,
            s3_bucket=bucket,
            reports_bucket=env.get("HEIMDALL_REPORTS_BUCKET") or bucket,
            archive_bucket=env.get("HEIMDALL_ARCHIVE_BUCKET") or bucket,
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            aws_region=env.get("AWS_REGION") or "us-east-1",
        )


@dataclass(frozen=True)
class MigrateSettings:
    """What heimdall-migrate needs: the owner role's URL and the roles it grants to."""

    database_url: str
    pipeline_role: str
    reader_role: str

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "MigrateSettings":
        env = os.environ if environ is None else environ
        database_url = env.get("HEIMDALL_MIGRATE_DATABASE_URL") or env.get("HEIMDALL_DATABASE_URL")
        if not database_url:
            raise RuntimeError(
                "neither HEIMDALL_MIGRATE_DATABASE_URL nor HEIMDALL_DATABASE_URL is set: run `make up` and "
                "load .devstack/env, or point it at your TimescaleDB's owner role (see README, Database roles)"
            )
        return cls(
            database_url=database_url,
            pipeline_role=env.get("HEIMDALL_PIPELINE_ROLE") or DEFAULT_PIPELINE_ROLE,
            reader_role=env.get("HEIMDALL_READER_ROLE") or DEFAULT_READER_ROLE,
        )
