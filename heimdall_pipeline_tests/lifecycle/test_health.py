"""The background-job and compression health: the assessment as pure logic (both editions' cases,
built by hand), and read_health against the real server, asserting what its edition must show."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from heimdall_pipeline.core.db import connect
from heimdall_pipeline.ingest.loader import load_measurements
from heimdall_pipeline.lifecycle.health import (
    GRACE,
    ChunkState,
    Health,
    JobError,
    JobState,
    assess,
    compression_layout,
    read_health,
)
from heimdall_pipeline_tests.measurement_rows import realistic_day

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
PORTAL_ERROR = JobError(NOW - timedelta(hours=3), "24000", 'cannot drop portal "" while it is being set up')


def compression_job(**changes) -> JobState:
    job = JobState(
        job_id=1000,
        application_name="Columnstore Policy [1000]",
        proc_name="policy_compression",
        hypertable_name="measurements",
        on_measurements=True,
        schedule_interval=timedelta(hours=12),
        scheduled=True,
        compress_after=timedelta(days=7),
        last_run_started_at=NOW - timedelta(hours=2),
        last_successful_finish=NOW - timedelta(hours=2),
        last_run_status="Success",
        job_status="Scheduled",
        next_start=NOW + timedelta(hours=10),
        total_runs=4,
        total_failures=0,
    )
    return replace(job, **changes)


def history_retention_job(**changes) -> JobState:
    job = JobState(
        3,
        "Job History Log Retention Policy [3]",
        "policy_job_stat_history_retention",
        None,
        False,
        timedelta(days=30),
        True,
        None,
        NOW - timedelta(days=2),
        NOW - timedelta(days=2),
        "Success",
        "Scheduled",
        NOW + timedelta(days=28),
        1,
        0,
    )
    return replace(job, **changes)


def chunk(days_ago_end: float, compressed: bool, name: str = "_hyper_1_1_chunk") -> ChunkState:
    end = NOW - timedelta(days=days_ago_end)
    return ChunkState(
        name,
        end - timedelta(days=1),
        end,
        compressed,
        1_000_000 if not compressed else 300_000,
        4_000_000 if compressed else None,
        1_000_000 if compressed else None,
    )


def community(jobs, chunks=(), errors_readable=True) -> Health:
    return assess(Health("timescale", NOW, list(jobs), list(chunks), (["websdr_id"], ["timestamp_utc DESC"]), errors_readable))


def test_community_all_well():
    health = community([compression_job(), history_retention_job()], [chunk(10, True), chunk(1, False)])
    assert health.passed and health.problems == []
    assert [j.job_id for j in health.watched] == [1000, 3]
    assert health.compression_policy.job_id == 1000
    assert health.horizon == NOW - timedelta(days=7, hours=12) - GRACE
    assert health.compression_ratio == 4.0
    assert health.summary().startswith("all 2 watched background job(s) healthy; 1 of 2 chunk(s) of measurements compressed")
    assert health.compression_note().startswith("compression policy job 1000 (policy_compression on measurements)")
    assert health.metadata()["bytes before compression (compressed chunks)"] == 4_000_000
    assert health.metadata()["bytes after compression (compressed chunks)"] == 1_000_000
    assert health.metadata()["bytes of uncompressed chunks"] == 1_000_000


def test_a_failed_last_run_warns_with_the_error_text():
    failed = compression_job(
        last_run_status="Failed", last_successful_finish=None, total_failures=3, total_runs=3, latest_error=PORTAL_ERROR
    )
    retention = history_retention_job(last_run_status="Failed", latest_error=PORTAL_ERROR)
    health = community([failed, retention])
    assert not health.passed
    assert len(health.problems) == 2
    first = health.problems[0]
    assert first.startswith("job 1000 (policy_compression on measurements) failed its last run")
    assert 'SQLSTATE 24000: cannot drop portal "" while it is being set up' in first
    assert "3 failure(s) in 3 run(s), last success never" in first
    assert 'cannot drop portal ""' in health.summary() and "job 3 " in health.summary()
    assert "cannot drop portal" in health.jobs_markdown()
    assert "WARNING: " in health.compression_note()


def test_a_failure_whose_error_is_not_visible_says_why():
    health = community([compression_job(last_run_status="Failed")])
    assert "no error visible in timescaledb_information.job_errors" in health.problems[0]
    health = community([compression_job(last_run_status="Failed")], errors_readable=False)
    assert "job_errors does not exist in this TimescaleDB version" in health.problems[0]


def test_no_success_within_the_schedule_plus_grace_warns():
    on_time = compression_job(last_successful_finish=NOW - timedelta(hours=12) - GRACE + timedelta(minutes=1))
    assert community([on_time]).passed
    late = compression_job(last_successful_finish=NOW - timedelta(hours=14))
    (problem,) = community([late]).problems
    assert "has not succeeded within its schedule (12:00:00 + 1:00:00)" in problem


def test_a_job_due_long_ago_that_never_ran_points_at_the_scheduler():
    never = compression_job(
        last_run_started_at=None,
        last_successful_finish=None,
        last_run_status=None,
        next_start=NOW - timedelta(hours=3),
        total_runs=0,
    )
    (problem,) = community([never]).problems
    assert "has never succeeded (0 run(s))" in problem and "max_background_workers" in problem
    just_created = replace(never, next_start=NOW - timedelta(minutes=5))
    assert community([just_created]).passed


def test_a_paused_policy_warns():
    (problem,) = community([compression_job(scheduled=False, job_status="Paused")]).problems
    assert "is paused" in problem


def test_chunks_past_the_horizon_still_uncompressed_warn():
    chunks = [chunk(9, False, "_hyper_1_5_chunk"), chunk(7.2, False, "_hyper_1_6_chunk"), chunk(12, True), chunk(2, False)]
    health = community([compression_job()], chunks)
    assert [c.chunk_name for c in health.late_chunks] == ["_hyper_1_5_chunk"]
    (problem,) = health.problems
    assert problem.startswith("1 chunk(s) of measurements older than compress_after (7 days, 0:00:00)")
    assert "_hyper_1_5_chunk" in problem and "_hyper_1_6_chunk" not in problem
    assert health.metadata()["chunks past the compression horizon uncompressed"] == 1


def test_a_policy_without_compress_after_cannot_date_chunks_and_says_so():
    policy = compression_job(compress_after=None)  # e.g. a policy set with compress_created_before
    health = community([policy], [chunk(20, False)])
    (problem,) = health.problems
    assert problem == "job 1000 (policy_compression on measurements) has no compress_after; cannot tell which chunks are late"
    assert health.horizon is None and health.late_chunks == []


def test_community_without_a_compression_policy_warns():
    (problem,) = community([history_retention_job()], [chunk(20, False)]).problems
    assert problem.startswith("no compression policy on measurements")


def test_telemetry_is_listed_but_not_watched():
    telemetry = replace(history_retention_job(), job_id=1, proc_name="policy_telemetry", last_run_status="Failed")
    health = community([telemetry, compression_job()])
    assert health.passed and [j.job_id for j in health.watched] == [1000]
    assert "| 1 |" in health.jobs_markdown()


def test_apache_passes_and_says_there_are_no_policies():
    licence_error = JobError(NOW, "0A000", 'functionality not supported under the current "apache" license')
    retention = history_retention_job(last_run_status="Failed", last_successful_finish=None, latest_error=licence_error)
    health = assess(Health("apache", NOW, [retention], [chunk(20, False), chunk(1, False)], ([], []), True))
    assert health.passed and health.watched == [] and health.compression_policy is None
    assert health.summary().startswith("Apache edition: no compression and no policies on measurements")
    assert health.compression_note().startswith("no compression: the Apache edition of TimescaleDB has none")
    assert "2 chunk(s) of measurements, 0 compressed" in health.compression_note()
    assert "| 3 | Job History Log Retention Policy [3] | - | no |" in health.jobs_markdown()
    assert health.metadata()["compression layout"] == "none"


# --- against the real server -----------------------------------------------------------------


def _chunk_counts(conn) -> tuple[int, int]:
    return conn.execute(
        "SELECT count(*) FILTER (WHERE is_compressed), count(*) FROM timescaledb_information.chunks "
        "WHERE hypertable_name = 'measurements'"
    ).fetchone()


def _job_stats(conn) -> dict[int, str | None]:
    return dict(conn.execute("SELECT job_id, last_run_status FROM timescaledb_information.job_stats").fetchall())


def test_read_health_on_the_real_server(db, owner_database_url, edition):
    old_days = [date(2025, 1, 2), date(2025, 1, 3)]
    recent = datetime.now(UTC).date()
    for day in [*old_days, recent]:
        load_measurements(db, realistic_day(day, sessions=300))

    health = read_health(db)
    assert health.edition == edition
    assert (len(health.compressed_chunks), len(health.chunks)) == _chunk_counts(db)
    assert len(health.chunks) >= 3
    assert {j.job_id for j in health.jobs} == set(r[0] for r in db.execute("SELECT job_id FROM timescaledb_information.jobs"))
    assert health.layout == compression_layout(db)
    for job in health.jobs:  # every job's status as job_stats has it, every error with its text
        assert job.last_run_status == _job_stats(db).get(job.job_id)
        if job.latest_error:
            assert job.latest_error.message in health.jobs_markdown().replace("\\|", "|")

    if edition == "apache":
        assert health.passed, health.problems
        assert health.summary().startswith("Apache edition: no compression and no policies on measurements")
        assert health.watched == [] and health.compression_policy is None and health.layout == ([], [])
        assert health.compressed_chunks == [] and health.uncompressed_bytes > 0
        assert health.bytes_before_compression == health.bytes_after_compression == 0
        return

    # Community. The policy is the one migration 0004 added.
    policy = health.compression_policy
    assert policy is not None and policy.compress_after == timedelta(days=7)
    assert health.layout == (["websdr_id"], ["timestamp_utc DESC"])
    old_chunks = [c for c in health.chunks if c.range_end.date() <= date(2025, 1, 4)]
    late_named = " ".join(health.problems)
    for c in old_chunks:  # each old day is compressed (a background run got there) or reported late
        assert c.is_compressed or c.chunk_name in late_named

    # Compress as the policy would, in the foreground (issue 9: on PostgreSQL 15.20 with TimescaleDB
    # <= 2.28.3 the scheduled runs can fail while CALL run_job works).
    with connect(owner_database_url, autocommit=True) as owner:  # run_job is the job owner's
        owner.execute("CALL run_job(%s::integer)", (policy.job_id,))
    health = read_health(db)
    assert (len(health.compressed_chunks), len(health.chunks)) == _chunk_counts(db)
    compressed = {c.chunk_name for c in health.compressed_chunks}
    assert {c.chunk_name for c in old_chunks} <= compressed
    assert all(c.range_end > health.checked_at - timedelta(days=7) for c in health.uncompressed_chunks)
    assert health.late_chunks == []
    assert health.bytes_before_compression > health.bytes_after_compression > 0
    assert health.compression_ratio > 1  # the layout of 0009 compresses; 0004's made the day bigger

    # What is left to report is exactly the watched jobs whose background runs failed, each with
    # its error text; a healthy server reports nothing.
    failed = [j for j in health.watched if j.last_run_status == "Failed"]
    assert health.passed == (failed == [] and not [j for j in health.watched if not j.scheduled])
    for job in failed:  # with its error text, which the owner's function makes visible to any role
        (problem,) = [p for p in health.problems if p.startswith(f"{job.label} failed its last run")]
        assert job.latest_error is not None and job.latest_error.message in problem


def test_the_latest_job_errors_reach_the_pipeline_and_reader_roles(owner_database_url, database_url, reader_database_url):
    # job_errors shows errors to the job owner and the database owner only; the owner's function
    # (migration 0010) hands the latest per job to the roles the check runs as.
    latest = (
        "SELECT DISTINCT ON (job_id) job_id, sqlerrcode, err_message FROM timescaledb_information.job_errors "
        "ORDER BY job_id, start_time DESC NULLS LAST"
    )
    with connect(owner_database_url, autocommit=False) as owner:
        assert (
            owner.execute("SELECT datdba::regrole::text FROM pg_database WHERE datname = current_database()").fetchone()[0]
            == owner.info.user
        )
        expected = owner.execute(latest).fetchall()
    for url in (database_url, reader_database_url):
        with connect(url, autocommit=False) as conn:
            assert (
                conn.execute(
                    "SELECT job_id, sqlerrcode, err_message FROM timescaledb_latest_job_errors() ORDER BY job_id"
                ).fetchall()
                == expected
            )
