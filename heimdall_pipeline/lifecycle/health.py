"""What TimescaleDB's background jobs and the compression of `measurements` really look like.

Any background job can fail on its schedule, silently (issue 9: on PostgreSQL 15.20 with
TimescaleDB <= 2.28.3 every job failed with SQLSTATE 24000 `cannot drop portal "" while it is
being set up`). So nothing here assumes a policy works: `read_health` reads
`timescaledb_information.jobs`, `job_stats`, `job_errors` (through the owner's
`timescaledb_latest_job_errors()`, migration 0010, so any role sees the text) and the chunks, and
`assess` lists what is wrong, with the error text:

- a watched job that failed its last run, is paused, or has not succeeded within its schedule
  interval plus `GRACE` (or was due that long ago and never ran: the scheduler is not running);
- chunks of `measurements` past the compression horizon (`compress_after` plus one policy
  interval plus `GRACE`) that are still uncompressed;
- on the Community edition, no compression policy on `measurements` at all.

Watched jobs: on Community every job but telemetry (reaching the internet is not the pipeline's
business). On Apache none: that edition runs no policies, and TimescaleDB's own jobs (job-history
retention) cannot run under its license and fail by design; they are listed, not warned about.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

import psycopg

from heimdall_pipeline.core.db import read_sql, scalar
from heimdall_pipeline.schema.migrations import timescaledb_edition

GRACE = timedelta(hours=1)
UNWATCHED_PROCS = frozenset({"policy_telemetry"})
LISTED_CHUNKS = 5


@dataclass(frozen=True)
class JobError:
    start_time: datetime | None
    sqlerrcode: str | None
    message: str | None

    def text(self) -> str:
        code = f"SQLSTATE {self.sqlerrcode}: " if self.sqlerrcode else ""
        return f"{code}{self.message or 'no message'} (run started {_when(self.start_time)})"


@dataclass(frozen=True)
class JobState:
    job_id: int
    application_name: str
    proc_name: str
    hypertable_name: str | None
    on_measurements: bool
    schedule_interval: timedelta | None
    scheduled: bool
    compress_after: timedelta | None
    last_run_started_at: datetime | None
    last_successful_finish: datetime | None  # None: never succeeded
    last_run_status: str | None  # 'Success', 'Failed' or None (never finished)
    job_status: str | None  # 'Running', 'Paused', 'Scheduled'
    next_start: datetime | None
    total_runs: int
    total_failures: int
    latest_error: JobError | None = None

    @property
    def label(self) -> str:
        on = f" on {self.hypertable_name}" if self.hypertable_name else ""
        return f"job {self.job_id} ({self.proc_name}{on})"

    @property
    def is_measurements_compression_policy(self) -> bool:
        return self.on_measurements and self.proc_name == "policy_compression"


@dataclass(frozen=True)
class ChunkState:
    chunk_name: str
    range_start: datetime
    range_end: datetime
    is_compressed: bool
    total_bytes: int | None
    before_compression_bytes: int | None
    after_compression_bytes: int | None


@dataclass(frozen=True)
class Health:
    edition: str
    checked_at: datetime
    jobs: list[JobState]
    chunks: list[ChunkState]
    layout: tuple[list[str], list[str]]  # (segmentby, orderby) of measurements
    job_errors_readable: bool
    grace: timedelta = GRACE
    watched: list[JobState] = field(default_factory=list)
    compression_policy: JobState | None = None
    horizon: datetime | None = None  # uncompressed chunks ending before this are late
    late_chunks: list[ChunkState] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.problems

    @property
    def compressed_chunks(self) -> list[ChunkState]:
        return [c for c in self.chunks if c.is_compressed]

    @property
    def uncompressed_chunks(self) -> list[ChunkState]:
        return [c for c in self.chunks if not c.is_compressed]

    @property
    def bytes_before_compression(self) -> int:
        return sum(c.before_compression_bytes or 0 for c in self.compressed_chunks)

    @property
    def bytes_after_compression(self) -> int:
        return sum(c.after_compression_bytes or 0 for c in self.compressed_chunks)

    @property
    def uncompressed_bytes(self) -> int:
        return sum(c.total_bytes or 0 for c in self.uncompressed_chunks)

    @property
    def compression_ratio(self) -> float | None:
        after = self.bytes_after_compression
        return self.bytes_before_compression / after if after else None

    def summary(self) -> str:
        """One paragraph: what is wrong, or that all is well, and what was measured."""
        chunks = f"{len(self.compressed_chunks)} of {len(self.chunks)} chunk(s) of measurements compressed"
        if self.compressed_chunks:
            chunks += (
                f" ({_size(self.bytes_before_compression)} -> {_size(self.bytes_after_compression)}"
                + (f", ratio {self.compression_ratio:.2f}" if self.compression_ratio else "")
                + ")"
            )
        if self.edition == "apache":
            own = (
                f"; TimescaleDB's own jobs ({len(self.jobs)}) cannot run under the apache license and are not watched"
                if self.jobs
                else ""
            )
            state = f"Apache edition: no compression and no policies on measurements{own}. {chunks}."
        elif self.passed:
            state = f"all {len(self.watched)} watched background job(s) healthy; {chunks}, none late."
        else:
            state = f"{len(self.problems)} problem(s) — " + " | ".join(self.problems) + f". {chunks}."
        return state

    def compression_note(self) -> str:
        """For the retention job's metadata: the measured state, never an assumption."""
        if self.edition == "apache":
            return (
                "no compression: the Apache edition of TimescaleDB has none; measured: "
                f"{len(self.chunks)} chunk(s) of measurements, {len(self.compressed_chunks)} compressed"
            )
        policy = self.compression_policy
        if policy is None:
            head = "compression policy missing on measurements"
        else:
            head = (
                f"compression policy {policy.label}: compress after {policy.compress_after}, last run "
                f"{policy.last_run_status or 'never finished'}"
            )
        late = f"{len(self.late_chunks)} past the horizon still uncompressed"
        note = f"{head}; measured: {self.summary_counts()}, {late}"
        return note if self.passed else f"{note}. WARNING: " + " | ".join(self.problems)

    def summary_counts(self) -> str:
        text = f"{len(self.compressed_chunks)} of {len(self.chunks)} chunk(s) compressed"
        if self.compressed_chunks:
            text += f" ({_size(self.bytes_before_compression)} -> {_size(self.bytes_after_compression)})"
        return text

    def jobs_markdown(self) -> str:
        if not self.jobs:
            return "_no TimescaleDB background jobs in this database_"
        watched = {j.job_id for j in self.watched}
        lines = [
            "| job | name | hypertable | watched | every | last run | status | last success | next start | "
            "runs | failures | latest error |",
            "|---:|---|---|---|---|---|---|---|---|---:|---:|---|",
        ]
        for j in self.jobs:
            error = j.latest_error.text().replace("|", "\\|").replace("\n", " ") if j.latest_error else "-"
            lines.append(
                f"| {j.job_id} | {j.application_name} | {j.hypertable_name or '-'} | "
                f"{'yes' if j.job_id in watched else 'no'} | {j.schedule_interval} | {_when(j.last_run_started_at)} | "
                f"{j.last_run_status or '-'} ({j.job_status or '-'}) | {_when(j.last_successful_finish)} | "
                f"{_when(j.next_start)} | {j.total_runs} | {j.total_failures} | {error} |"
            )
        return "\n".join(lines)

    def metadata(self) -> dict:
        """Plain values for Dagster metadata (the wiring wraps the markdown)."""
        segmentby, orderby = self.layout
        return {
            "timescaledb_edition": self.edition,
            "chunks": len(self.chunks),
            "chunks compressed": len(self.compressed_chunks),
            "chunks uncompressed": len(self.uncompressed_chunks),
            "chunks past the compression horizon uncompressed": len(self.late_chunks),
            "bytes before compression (compressed chunks)": self.bytes_before_compression,
            "bytes after compression (compressed chunks)": self.bytes_after_compression,
            "bytes of uncompressed chunks": self.uncompressed_bytes,
            "compression ratio": round(self.compression_ratio, 2) if self.compression_ratio else None,
            "compression layout": (
                f"segmentby {', '.join(segmentby) or '-'}; orderby {', '.join(orderby)}" if orderby else "none"
            ),
            "compression horizon": self.horizon.isoformat() if self.horizon else None,
            "watched jobs": len(self.watched),
            "problems": len(self.problems),
        }


def read_health(conn: psycopg.Connection, grace: timedelta = GRACE) -> Health:
    """Read the jobs, their latest errors, the chunks and the layout, and assess them."""
    edition = timescaledb_edition(conn)
    checked_at = scalar(conn.execute("SELECT now()"))
    errors_readable = scalar(conn.execute("SELECT to_regclass('timescaledb_information.job_errors') IS NOT NULL"))
    latest_errors = {}
    if errors_readable:
        latest_errors = {
            job_id: JobError(start_time, sqlerrcode, message)
            for job_id, start_time, sqlerrcode, message in conn.execute(read_sql("lifecycle/health/latest_job_errors.sql"))
        }
    jobs = [
        JobState(*row, latest_error=latest_errors.get(row[0]))  # type: ignore[misc]  # the query's columns are JobState's but the last
        for row in conn.execute(read_sql("lifecycle/health/jobs.sql"))
    ]
    chunks = [ChunkState(*row) for row in conn.execute(read_sql("lifecycle/health/measurements_chunks.sql"))]
    return assess(Health(edition, checked_at, jobs, chunks, compression_layout(conn), errors_readable, grace))


def compression_layout(conn: psycopg.Connection) -> tuple[list[str], list[str]]:
    """(segmentby columns, orderby columns with ASC/DESC) of measurements; ([], []) uncompressed."""
    segmentby, orderby = [], []
    for name, segment_index, order_index, ascending in conn.execute(read_sql("lifecycle/health/compression_layout.sql")):
        if segment_index is not None:
            segmentby.append(name)
        elif order_index is not None:
            orderby.append(f"{name} {'ASC' if ascending else 'DESC'}")
    return segmentby, orderby


def assess(health: Health) -> Health:
    """The same state with what is wrong listed in `problems` (pure: no database)."""
    now, grace = health.checked_at, health.grace
    watched = [j for j in health.jobs if health.edition == "timescale" and j.proc_name not in UNWATCHED_PROCS]
    problems = [p for job in watched if (p := _job_problem(job, now, grace, health.job_errors_readable))]
    policy = next((j for j in health.jobs if j.is_measurements_compression_policy), None)
    horizon, late = None, []
    if health.edition == "timescale":
        if policy is None:
            problems.append("no compression policy on measurements (migration 0004 adds one)")
        elif policy.compress_after is None:
            problems.append(f"{policy.label} has no compress_after; cannot tell which chunks are late")
        else:
            horizon = now - policy.compress_after - (policy.schedule_interval or timedelta()) - grace
            late = [c for c in health.chunks if not c.is_compressed and c.range_end <= horizon]
            if late:
                listed = ", ".join(
                    f"{c.chunk_name} ({c.range_start:%Y-%m-%d %H:%M}–{c.range_end:%Y-%m-%d %H:%M})" for c in late[:LISTED_CHUNKS]
                )
                more = f" and {len(late) - LISTED_CHUNKS} more" if len(late) > LISTED_CHUNKS else ""
                problems.append(
                    f"{len(late)} chunk(s) of measurements older than compress_after ({policy.compress_after}) "
                    f"plus one policy interval are uncompressed: {listed}{more}"
                )
    return replace(health, watched=watched, compression_policy=policy, horizon=horizon, late_chunks=late, problems=problems)


def _job_problem(job: JobState, now: datetime, grace: timedelta, errors_readable: bool) -> str | None:
    last_success = f"last success {_when(job.last_successful_finish)}"
    if not job.scheduled:
        return f"{job.label} is paused (scheduled = false); {last_success}"
    if job.last_run_status == "Failed":
        if job.latest_error:
            error = job.latest_error.text()
        elif errors_readable:
            error = (
                "no error visible in timescaledb_information.job_errors to the owner of "
                "timescaledb_latest_job_errors() (the view shows a job's errors to its owner and the database owner)"
            )
        else:
            error = "timescaledb_information.job_errors does not exist in this TimescaleDB version"
        return (
            f"{job.label} failed its last run (started {_when(job.last_run_started_at)}, "
            f"{job.total_failures} failure(s) in {job.total_runs} run(s), {last_success}): {error}"
        )
    allowed = (job.schedule_interval or timedelta()) + grace
    if job.last_successful_finish is not None and now - job.last_successful_finish > allowed:
        return f"{job.label} has not succeeded within its schedule ({job.schedule_interval} + {grace}): {last_success}"
    if job.last_successful_finish is None and job.next_start is not None and job.next_start < now - grace:
        return (
            f"{job.label} was due at {_when(job.next_start)} and has never succeeded "
            f"({job.total_runs} run(s)); is TimescaleDB's scheduler running (timescaledb.max_background_workers)?"
        )
    return None


def _when(moment: datetime | None) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if moment else "never"


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
