"""Settings read from the environment: the same variables `make up` writes to `.devstack/env`.

A missing or malformed setting raises ConfigError: one line that names the variable and never
shows a secret (URLs are shown with their password masked, `redact_url`).
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from urllib.parse import unquote, urlsplit

DEFAULT_BUCKET = "heimdall-raw-iq"
DEFAULT_PIPELINE_ROLE = "heimdall_pipeline"
DEFAULT_READER_ROLE = "heimdall_reader"
DEFAULT_ARCHIVER_ROLE = "heimdall_archiver"  # retention: the only role that writes archive records and drops days
DEFAULT_EVENTS_ROLE = "heimdall_minio"  # MinIO's notification target, when it writes into our database
DEFAULT_PARTITIONS_START_DATE = "2025-01-01"
DEFAULT_DB_SCHEMA = "public"
# The schema holding TimescaleDB's functions (time_bucket, create_hypertable): searched after ours.
TIMESCALEDB_SCHEMA = "public"
# A plain, lower-case identifier: it goes into search_path and SQL unquoted-safe, and names no
# system schema. Mixed case or quoting would make `heimdall` and `"Heimdall"` two schemas.
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_POSTGRES_SCHEMES = ("postgresql", "postgres")
MASK = "***"

# user:password@ after a scheme, or at the start of a URL written without one (libpq would read
# `heimdall:secret@host/db` as a keyword string and echo it in its error).
_URL_PASSWORD = re.compile(r"(://)([^\s:/@\"']*):([^\s@\"']*)@")
_SCHEMELESS_PASSWORD = re.compile(r"(^|[\s\"'(=])([^\s:/@\"'()]+):(?!//)([^\s@\"'/]*)@")
# password=... in a keyword conninfo string or a URL query.
_KEYWORD_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&'\"]+)", re.IGNORECASE)


class ConfigError(RuntimeError):
    """A required setting is missing or malformed; the message is one line naming the variable."""


def redact_url(text: str) -> str:
    """`text` (a URL, a conninfo string, or an error message quoting one) with passwords masked."""
    for pattern in (_URL_PASSWORD, _SCHEMELESS_PASSWORD):
        text = pattern.sub(lambda m: f"{m[1]}{m[2]}:{MASK}@", text)
    return _KEYWORD_PASSWORD.sub(lambda m: f"{m[1]}{MASK}", text)


def redact(text: str, *urls: str | None) -> str:
    """An error message with every password masked: those of `urls`, parsed from each URL (not
    guessed by a pattern), wherever they appear (as written and percent-decoded), and any URL or
    conninfo password in it. A short password is masked only where it stands as a token of its own,
    so masking never changes a word that merely contains it ("does not exist" stays whole)."""
    for url in urls:
        password = password_of(url) if url else None
        if not password:
            continue
        for form in {password, unquote(password)}:
            if len(form) >= 6:
                text = text.replace(form, MASK)
            else:
                text = re.sub(rf"(?<![\w]){re.escape(form)}(?![\w])", MASK, text)
    return redact_url(text)


def password_of(url: str) -> str | None:
    """The password of a postgresql:// URL (everything between the first ':' of the userinfo and
    the last '@' of the authority, whatever characters it holds) or of a keyword conninfo string."""
    match = _KEYWORD_PASSWORD.search(url)
    if match:
        return match[2].strip("'") or None
    if "://" not in url:
        match = _SCHEMELESS_PASSWORD.search(url)
        return match[3] if match and match[3] else None
    rest = url.split("://", 1)[1]
    at = rest.rfind("@")
    if at < 0:
        return None
    userinfo = rest[:at]
    return userinfo.split(":", 1)[1] or None if ":" in userinfo else None


# What a URL's userinfo may hold as written (RFC 3986: unreserved, %XX, sub-delims but the quote).
_USERINFO_SAFE = re.compile(r"(?:[A-Za-z0-9._~!$&()*+,;=:-]|%[0-9A-Fa-f]{2})*")


def _check_userinfo(name: str, value: str) -> None:
    """Refuse a password a URL parser would misread (an unencoded / # ? @ space quote ...) before
    any parser sees it: their errors quote the password ("Port could not be cast to integer value
    as '<password>'"). The message says how to encode it and never shows it."""
    rest = value.split("://", 1)[1]
    at = rest.rfind("@")
    if at < 0:
        return
    userinfo = rest[:at]
    if not _USERINFO_SAFE.fullmatch(userinfo):
        raise ConfigError(
            f"{name}: the user name or password holds characters a URL must percent-encode (e.g. / as %2F, "
            "@ as %40, # as %23, ? as %3F, a space as %20, ' as %27); encode them, e.g. with "
            "python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=\"\"))' '<password>'"
        )


def postgres_url(env: Mapping[str, str], name: str, *, hint: str = "") -> str:
    """The PostgreSQL URL in variable `name`, checked: set, postgresql:// (or postgres://), parseable."""
    value = (env.get(name) or "").strip()
    if not value:
        raise ConfigError(f"{name} is not set{': ' + hint if hint else ''}")
    scheme, _, _ = value.partition("://")
    if "://" not in value or scheme.split("+")[0] not in _POSTGRES_SCHEMES:
        raise ConfigError(
            f"{name} must be a postgresql:// URL (postgresql://user:password@host:port/database), got {redact(value, value)}"
        )
    _check_userinfo(name, value)
    shown = redact(value, value)
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number
    except ValueError as error:
        raise ConfigError(f"{name} is not a valid URL ({redact(str(error), value)}): {shown}") from None
    if not parts.path.strip("/"):
        raise ConfigError(f"{name} names no database (postgresql://user:password@host:port/database): {shown}")
    try:
        from psycopg.conninfo import conninfo_to_dict

        conninfo_to_dict(value)
    except Exception as error:  # libpq's parser decides; its message may quote the URL
        reason = redact(" ".join(str(error).split()), value)
        raise ConfigError(f"{name} is not a valid PostgreSQL URL ({reason}): {shown}") from None
    return value


def partitions_start_date(env: Mapping[str, str] | None = None) -> str:
    """HEIMDALL_PARTITIONS_START_DATE (default 2025-01-01), checked to be a YYYY-MM-DD date."""
    env = os.environ if env is None else env
    value = (env.get("HEIMDALL_PARTITIONS_START_DATE") or DEFAULT_PARTITIONS_START_DATE).strip()
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise ValueError
        date.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"HEIMDALL_PARTITIONS_START_DATE must be a date YYYY-MM-DD, got {value!r}") from None
    return value


def db_schema(env: Mapping[str, str] | None = None) -> str:
    """HEIMDALL_DB_SCHEMA (default public): the PostgreSQL schema holding everything this project
    creates, checked to be a plain lower-case identifier that names no system schema."""
    env = os.environ if env is None else env
    value = (env.get("HEIMDALL_DB_SCHEMA") or DEFAULT_DB_SCHEMA).strip()
    system = value.startswith(("pg_", "_timescaledb", "timescaledb_")) or value in ("information_schema", "toolkit_experimental")
    if not _SCHEMA_NAME.fullmatch(value) or system:
        raise ConfigError(
            "HEIMDALL_DB_SCHEMA must be a plain lower-case identifier (a-z, 0-9, _; at most 63; not a system "
            f"schema: pg_*, information_schema, _timescaledb*, timescaledb_*), got {value[:80]!r}"
        )
    return value


def raw_bucket(env: Mapping[str, str] | None = None) -> str:
    """HEIMDALL_S3_BUCKET: the bucket Heimdall writes sessions/ to (default heimdall-raw-iq)."""
    env = os.environ if env is None else env
    return (env.get("HEIMDALL_S3_BUCKET") or DEFAULT_BUCKET).strip()


def search_path(schema: str) -> str:
    """The search_path of every connection: our schema first, then TimescaleDB's functions.
    Nothing of ours is schema-qualified in sql/, so this alone decides where our tables are."""
    return schema if schema == TIMESCALEDB_SCHEMA else f'"{schema}",{TIMESCALEDB_SCHEMA}'


def _optional_url(env: Mapping[str, str], name: str) -> str | None:
    value = (env.get(name) or "").strip()
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{name} must be an http:// or https:// URL, got {redact_url(value)!r}")
    return value


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
    db_schema: str = DEFAULT_DB_SCHEMA

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        database_url = postgres_url(
            env,
            "HEIMDALL_DATABASE_URL",
            hint="run `make up` and load .devstack/env, or point it at your TimescaleDB (docs/operating.md, Configuration)",
        )
        for optional in ("HEIMDALL_READER_DATABASE_URL", "HEIMDALL_ARCHIVER_DATABASE_URL"):
            if (env.get(optional) or "").strip():
                postgres_url(env, optional)  # optional, but checked when given
        bucket = raw_bucket(env)
        partitions_start_date(env)
        reconcile_pages_per_tick(env)
        iq_concurrency(env, IQ_CONCURRENCY_RANGE[0])
        iq_max_recording_bytes(env, IQ_MAX_RECORDING_BYTES_RANGE[0])
        EventSettings.from_env(env)
        return cls(
            database_url=database_url,
            s3_endpoint_url=_optional_url(env, "HEIMDALL_S3_ENDPOINT_URL"),
            s3_bucket=bucket,
            reports_bucket=env.get("HEIMDALL_REPORTS_BUCKET") or bucket,
            archive_bucket=env.get("HEIMDALL_ARCHIVE_BUCKET") or bucket,
            aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
            aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
            aws_region=env.get("AWS_REGION") or "us-east-1",
            db_schema=db_schema(env),
        )


# The IQ stage's two knobs (heimdall_pipeline.iq.recordings has the defaults): memory is bounded by
# concurrency × max recording bytes, so both are bounded too.
IQ_CONCURRENCY_RANGE = (1, 64)
IQ_MAX_RECORDING_BYTES_RANGE = (1024, 256 * 1024 * 1024)
DEFAULT_RECONCILE_PAGES_PER_TICK = 10  # LIST requests of 1,000 keys per sensor tick
MAX_RECONCILE_PAGES_PER_TICK = 1_000


def bounded_int(env: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer setting within [low, high], or its default when unset."""
    value = (env.get(name) or "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number from {low} to {high}, got {value[:40]!r}") from None
    if not low <= number <= high:
        raise ConfigError(f"{name} must be from {low} to {high}, got {number}")
    return number


def reconcile_pages_per_tick(env: Mapping[str, str] | None = None) -> int:
    """HEIMDALL_RECONCILE_PAGES_PER_TICK: how much of the bucket's listing each sensor tick reads."""
    env = os.environ if env is None else env
    return bounded_int(
        env, "HEIMDALL_RECONCILE_PAGES_PER_TICK", DEFAULT_RECONCILE_PAGES_PER_TICK, 0, MAX_RECONCILE_PAGES_PER_TICK
    )


def iq_concurrency(env: Mapping[str, str], default: int) -> int:
    """HEIMDALL_IQ_CONCURRENCY: recordings read and measured at once, 1–64."""
    return bounded_int(env, "HEIMDALL_IQ_CONCURRENCY", default, *IQ_CONCURRENCY_RANGE)


def iq_max_recording_bytes(env: Mapping[str, str], default: int) -> int:
    """HEIMDALL_IQ_MAX_RECORDING_BYTES: larger recordings are rejected unread, 1 KiB–256 MiB."""
    return bounded_int(env, "HEIMDALL_IQ_MAX_RECORDING_BYTES", default, *IQ_MAX_RECORDING_BYTES_RANGE)


@dataclass(frozen=True)
class EventSettings:
    """Where object notifications arrive (docs/discovery.md): an SQS queue that S3
    notifies, or MinIO's PostgreSQL target writing into our s3_events table. Both off by default."""

    sqs_queue_url: str | None = None
    sqs_endpoint_url: str | None = None
    minio_table: bool = False

    @property
    def enabled(self) -> bool:
        return bool(self.sqs_queue_url or self.minio_table)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EventSettings:
        env = os.environ if environ is None else environ
        minio = (env.get("HEIMDALL_EVENTS_MINIO_TABLE") or "off").strip().lower()
        if minio not in ("on", "off"):
            raise ConfigError(f"HEIMDALL_EVENTS_MINIO_TABLE must be on or off, got {minio[:20]!r}")
        queue_url = _optional_url(env, "HEIMDALL_EVENTS_SQS_QUEUE_URL")
        if queue_url and minio == "on":
            raise ConfigError(
                "set one notification source: HEIMDALL_EVENTS_SQS_QUEUE_URL or HEIMDALL_EVENTS_MINIO_TABLE=on, not both"
            )
        return cls(
            sqs_queue_url=queue_url,
            # The queue's service: AWS SQS (unset) or, locally, the S3 server that also serves SQS.
            sqs_endpoint_url=_optional_url(env, "HEIMDALL_EVENTS_SQS_ENDPOINT_URL")
            or _optional_url(env, "HEIMDALL_S3_ENDPOINT_URL"),
            minio_table=minio == "on",
        )


@dataclass(frozen=True)
class MigrateSettings:
    """What heimdall-migrate needs: the owner role's URL and the roles it grants to."""

    database_url: str
    pipeline_role: str
    reader_role: str
    db_schema: str = DEFAULT_DB_SCHEMA
    events_role: str = DEFAULT_EVENTS_ROLE
    archiver_role: str = DEFAULT_ARCHIVER_ROLE

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MigrateSettings:
        env = os.environ if environ is None else environ
        name = (
            "HEIMDALL_MIGRATE_DATABASE_URL"
            if (env.get("HEIMDALL_MIGRATE_DATABASE_URL") or "").strip()
            else "HEIMDALL_DATABASE_URL"
        )
        return cls(
            database_url=postgres_url(
                env,
                name,
                hint="set HEIMDALL_MIGRATE_DATABASE_URL (or HEIMDALL_DATABASE_URL) to the owner role's URL; "
                "`make up` writes it to .devstack/env (docs/operating.md, Database roles)",
            ),
            pipeline_role=env.get("HEIMDALL_PIPELINE_ROLE") or DEFAULT_PIPELINE_ROLE,
            reader_role=env.get("HEIMDALL_READER_ROLE") or DEFAULT_READER_ROLE,
            db_schema=db_schema(env),
            events_role=env.get("HEIMDALL_EVENTS_ROLE") or DEFAULT_EVENTS_ROLE,
            archiver_role=env.get("HEIMDALL_ARCHIVER_ROLE") or DEFAULT_ARCHIVER_ROLE,
        )


def check_instance(environ: Mapping[str, str] | None = None) -> None:
    """The Dagster instance's settings: DAGSTER_HOME holding a dagster.yaml, DAGSTER_POSTGRES_URL."""
    env = os.environ if environ is None else environ
    home = env.get("DAGSTER_HOME")
    if not home:
        raise ConfigError("DAGSTER_HOME is not set: the directory holding the instance's dagster.yaml (`make up` sets it)")
    if not os.path.isfile(os.path.join(home, "dagster.yaml")):
        raise ConfigError(f"DAGSTER_HOME={home} holds no dagster.yaml")
    postgres_url(env, "DAGSTER_POSTGRES_URL", hint="the PostgreSQL database of the Dagster instance (`make up` sets it)")


@contextmanager
def exit_on_config_error(program: str) -> Iterator[None]:
    """Turn a ConfigError into one line on stderr and exit status 1: no stack trace at start-up."""
    try:
        yield
    except ConfigError as error:
        raise SystemExit(f"{program}: configuration error: {error}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Check heimdall-pipeline's settings in the environment.")
    parser.add_argument("--instance", action="store_true", help="also check DAGSTER_HOME and DAGSTER_POSTGRES_URL")
    args = parser.parse_args(argv)
    with exit_on_config_error("heimdall-pipeline"):
        Settings.from_env()
        if args.instance:
            check_instance()
    return 0


if __name__ == "__main__":  # scripts/serve.sh calls main() directly (see there)
    sys.exit(main())
