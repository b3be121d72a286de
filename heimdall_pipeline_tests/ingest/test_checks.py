"""What the ingest checks conclude for a day, from its rows and ledger entries (no Dagster), and
how a ranged run's days add up."""

from __future__ import annotations

from datetime import date, timedelta

from heimdall_pipeline.core.object_store import ObjectInfo
from heimdall_pipeline.ingest.checks import (
    OFFSET_WITHIN_BAND,
    SNR_IN_PLAUSIBLE_RANGE,
    CheckOutcome,
    Markdown,
    Severity,
    no_conflicts,
    objects_accounted_for,
    pending_objects_message,
    receivers_reported,
    rows_within,
    summarize_days,
)
from heimdall_pipeline.ingest.loader import load_object_batch, record_get_failures, record_listed
from heimdall_pipeline.ingest.uploads import upload_day_bounds
from heimdall_pipeline_tests.measurement_rows import measurement, utc

DAY = date(2025, 7, 1)
BOUNDS = upload_day_bounds(DAY)
UPLOADED = utc(2025, 7, 1, 12)


def _info(name: str, websdr_id: int = 1) -> ObjectInfo:
    return ObjectInfo(f"sessions/{name}/websdr_{websdr_id}_metadata.json", f"etag-{name}", 100, UPLOADED)


def _load(db, *rows) -> None:
    """Each row as the object of its own task, uploaded on DAY."""
    load_object_batch(db, [(_info(row.task_id, row.websdr_id), row) for row in rows])


def test_a_range_passes_only_when_every_day_passed():
    days = {DAY: CheckOutcome(True, Severity.WARN, "fine"), DAY + timedelta(1): CheckOutcome(True, Severity.WARN)}
    summary = summarize_days(days)
    assert summary.passed and summary.severity == Severity.WARN
    assert summary.description == "run range 2025-07-01 .. 2025-07-02: 2 of 2 days passed"
    assert summary.metadata["run range: upload days"] == "2025-07-01 .. 2025-07-02 (2 days)"
    assert summary.metadata["run range: days failed"] == "-"


def test_a_range_takes_its_worst_failed_days_severity():
    days = {
        DAY: CheckOutcome(False, Severity.WARN, "a | b"),
        DAY + timedelta(1): CheckOutcome(True, Severity.ERROR),
        DAY + timedelta(2): CheckOutcome(False, Severity.ERROR, "pending"),
    }
    summary = summarize_days(days)
    assert not summary.passed and summary.severity == Severity.ERROR
    assert summary.description.endswith("1 of 3 days passed; failed: 2025-07-01, 2025-07-03")
    assert summary.metadata["run range: days failed"] == "2025-07-01, 2025-07-03"
    table = summary.metadata["run range: result per day"]
    assert isinstance(table, Markdown)
    assert "| 2025-07-01 | WARN | a / b |" in table and "| 2025-07-02 | passed |  |" in table


def test_pending_objects_fail_the_run_with_the_days_named():
    message = pending_objects_message({DAY: 2, DAY + timedelta(1): 1})
    assert message.startswith("3 objects of 2025-07-01, 2025-07-02 are still pending")


def test_a_day_whose_objects_all_loaded_is_accounted_for(db):
    _load(db, measurement("a", 1, utc(2025, 7, 1, 9), 10.0))
    outcome, pending = objects_accounted_for(db, *BOUNDS)
    assert outcome.passed and pending == 0
    assert outcome.metadata["objects in ledger"] == 1


def test_pending_objects_are_an_error_and_given_up_ones_a_warning(db):
    record_listed(db, [_info("waiting")])
    outcome, pending = objects_accounted_for(db, *BOUNDS)
    assert (outcome.passed, outcome.severity, pending) == (False, Severity.ERROR, 1)
    assert "`sessions/waiting/websdr_1_metadata.json` | pending" in outcome.metadata["examples"]

    record_get_failures(db, [(_info("waiting"), "timeout")], max_attempts=1)
    outcome, pending = objects_accounted_for(db, *BOUNDS)
    assert (outcome.passed, outcome.severity, pending) == (False, Severity.WARN, 0)
    assert outcome.description == "0 pending, 1 failed (given up) of 1 objects in the ledger"


def test_snr_and_offset_outside_their_ranges_warn_with_counts(db):
    _load(
        db,
        measurement("ok", 1, utc(2025, 7, 1, 9), 10.0, offset_hz=100.0),
        measurement("loud", 2, utc(2025, 7, 1, 9), 95.0),
        measurement("off", 3, utc(2025, 7, 1, 9), 10.0, offset_hz=-7_000.0),  # beyond 12.5 kHz / 2
    )
    snr = rows_within(db, *BOUNDS, SNR_IN_PLAUSIBLE_RANGE)
    assert (snr.passed, snr.severity) == (False, Severity.WARN)
    assert snr.description == "1 of 3 rows outside the range"
    assert snr.metadata == {"measurements": 3, "out of range": 1, "min snr_db": 10.0, "max snr_db": 95.0}
    offset = rows_within(db, *BOUNDS, OFFSET_WITHIN_BAND)
    assert (offset.passed, offset.severity) == (False, Severity.WARN)
    assert offset.description == "1 of 3 rows beyond ±sample_rate/2"
    assert offset.metadata == {"measurements": 3, "out of range": 1, "max |offset| Hz": 7_000.0}


def test_a_silent_receiver_is_named(db):
    at = utc(2025, 7, 1, 9)  # in the seed's numbering (before 0021's cut-over): 7 is Milano - Baggio
    names = dict(
        db.execute(
            "SELECT websdr_id, name FROM websdr_station_versions WHERE websdr_id IS NOT NULL AND valid_during @> %s", (at,)
        ).fetchall()
    )
    assert names[7] == "Milano - Baggio"
    _load(db, *(measurement("s", websdr_id, at, 10.0) for websdr_id in names if websdr_id != 7))
    outcome = receivers_reported(db, *BOUNDS)
    assert (outcome.passed, outcome.severity) == (False, Severity.WARN)
    assert outcome.metadata["missing receivers"] == names[7]
    assert outcome.metadata["ids no station had then"] == "-"


def test_a_row_in_conflict_with_a_stored_one_warns(db):
    _load(db, measurement("c", 1, utc(2025, 7, 1, 9), 10.0))
    assert no_conflicts(db, *BOUNDS).passed
    other = ObjectInfo("sessions/c-again/websdr_1_metadata.json", "etag-again", 100, UPLOADED)
    load_object_batch(db, [(other, measurement("c", 1, utc(2025, 7, 1, 9), 11.0))])
    outcome = no_conflicts(db, *BOUNDS)
    assert (outcome.passed, outcome.severity, outcome.metadata["conflicts"]) == (False, Severity.WARN, 1)
