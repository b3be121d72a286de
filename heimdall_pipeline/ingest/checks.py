"""What the data checks of an upload day conclude, without Dagster: each check is a function of the
day's rows and ledger entries that returns a CheckOutcome; heimdall_pipeline.defs turns outcomes
into asset check results.

Severity: a bad day of data (a receiver silent, odd SNR or offsets, conflicts) WARNs and lets the
day through. Objects left unaccounted (a GET that failed after its retries) are an ERROR.
A ranged (backfill) run evaluates each day on its own; summarize_days then says what the range
concluded: passed only if every day passed, with the worst day's severity, so a blocking check
still stops downstream.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime

import psycopg

from heimdall_pipeline.ingest.ledger import (
    PLAUSIBLE_SNR_RANGE_DB,
    day_conflicts,
    partition_rows,
    receiver_counts,
    unfinished_entries,
    unknown_receiver_ids,
)
from heimdall_pipeline.ingest.loader import ledger_summary

# A ledger status that ends an object's story; any other (pending) means the day is not done.
FINAL_STATUSES = ("loaded", "updated", "present", "conflict", "rejected", "missing", "failed")
LISTED_EXAMPLES = 20  # rows of a check's example tables


class Severity(enum.Enum):
    """How bad a failed check is; the values are Dagster's AssetCheckSeverity values."""

    WARN = "WARN"
    ERROR = "ERROR"


_SEVERITY_RANK = {Severity.WARN: 0, Severity.ERROR: 1}


class Markdown(str):
    """A metadata value to show as Markdown (a table); a plain str is shown as text."""


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    severity: Severity
    description: str | None = None
    metadata: dict[str, int | float | str | None] = field(default_factory=dict)  # str: text, Markdown: a table


def summarize_days(outcomes: dict[date, CheckOutcome]) -> CheckOutcome:
    """The outcome of a ranged run from each day's, in day order: passed only if every day passed,
    then with the severity of its worst failed day; the days failed and a table of each day's."""
    days = list(outcomes)
    failed = {day: outcome for day, outcome in outcomes.items() if not outcome.passed}
    worst = max((o.severity for o in failed.values()), key=_SEVERITY_RANK.__getitem__, default=Severity.WARN)
    table = "\n".join(
        f"| {day} | {'passed' if o.passed else o.severity.value} | {(o.description or '').replace('|', '/')} |"
        for day, o in outcomes.items()
    )
    return CheckOutcome(
        passed=not failed,
        severity=worst if failed else outcomes[days[0]].severity,
        description=(
            f"run range {days[0]} .. {days[-1]}: {len(days) - len(failed)} of {len(days)} days passed"
            + (f"; failed: {', '.join(str(day) for day in failed)}" if failed else "")
        ),
        metadata={
            "run range: upload days": f"{days[0]} .. {days[-1]} ({len(days)} days)",
            "run range: days failed": ", ".join(str(day) for day in failed) or "-",
            "run range: result per day": Markdown("| day | result | description |\n|---|---|---|\n" + table),
        },
    )


def receivers_reported(conn: psycopg.Connection, start: datetime, end: datetime) -> CheckOutcome:
    """Every station active at some moment of the day has rows among the day's rows (WARN)."""
    counts = receiver_counts(conn, start, end)
    missing = [c for c in counts if c.measurements == 0]
    # Reported, not failed on: the day's receivers are judged by the list; an id outside it means
    # the list needs a sync (heimdall-stations), which docs/integrating.md, 'Receivers over time', covers.
    unknown = unknown_receiver_ids(conn, start, end)
    table = "\n".join(f"| {c.websdr_ids} | {c.name} | {c.measurements} |" for c in counts)
    return CheckOutcome(
        passed=not missing,
        severity=Severity.WARN,
        description=("missing: " + ", ".join(c.name for c in missing)) if missing else "all receivers reported",
        metadata={
            "missing receivers": ", ".join(c.name for c in missing) or "-",
            "expected receivers": ", ".join(c.name for c in counts) or "-",
            "ids no station had then": ", ".join(f"websdr {i}: {n} measurements" for i, n in unknown.items()) or "-",
            "measurements per receiver": Markdown("| id(s) that day | receiver | measurements |\n|---|---|---|\n" + table),
        },
    )


@dataclass(frozen=True)
class RowBound:
    """A bound every row of the day should keep, as partition_rows counts the rows beyond it: the
    PartitionRows field of that count, what being beyond it is called, and the extremes shown."""

    beyond_field: str
    beyond: str  # ends the description: "3 of 120 rows <beyond>"
    extremes: tuple[tuple[str, str], ...]  # (metadata key, PartitionRows field)


SNR_IN_PLAUSIBLE_RANGE = RowBound(
    "snr_out_of_range", "outside the range", (("min snr_db", "min_snr_db"), ("max snr_db", "max_snr_db"))
)
OFFSET_WITHIN_BAND = RowBound("offset_out_of_range", "beyond ±sample_rate/2", (("max |offset| Hz", "max_abs_offset_hz"),))


def rows_within(conn: psycopg.Connection, start: datetime, end: datetime, bound: RowBound) -> CheckOutcome:
    """The day's rows keep `bound` (WARN): how many do not, of how many, and the extremes. SNR is
    judged against PLAUSIBLE_SNR_RANGE_DB, offsets against ±sample_rate/2."""
    found = partition_rows(conn, start, end, PLAUSIBLE_SNR_RANGE_DB)
    beyond = getattr(found, bound.beyond_field)
    return CheckOutcome(
        passed=beyond == 0,
        severity=Severity.WARN,
        description=f"{beyond} of {found.measurements} rows {bound.beyond}",
        metadata={
            "measurements": found.measurements,
            "out of range": beyond,
            **{key: getattr(found, field) for key, field in bound.extremes},
        },
    )


def no_conflicts(conn: psycopg.Connection, start: datetime, end: datetime) -> CheckOutcome:
    """No object of the day found a stored row with its key holding other values (WARN)."""
    count, examples = day_conflicts(conn, start, end, LISTED_EXAMPLES)
    rows = "\n".join(f"| `{key}` | {reason.replace('|', '/')} |" for key, reason in examples)
    return CheckOutcome(
        passed=count == 0,
        severity=Severity.WARN,
        description=(f"{count} objects in conflict with a stored row (kept as it is)" if count else "no conflicting rows"),
        metadata={
            "conflicts": count,
            "conflicts (first)": Markdown("| key | reason |\n|---|---|\n" + (rows or "| (none) | |")),
        },
    )


def objects_accounted_for(conn: psycopg.Connection, start: datetime, end: datetime) -> tuple[CheckOutcome, int]:
    """The day's outcome from the ledger alone (no listing: what the bucket holds beyond the ledger
    is the reconciliation pass's to find), and how many of its objects are still pending.
    Pending objects are an ERROR (the run should come back for them); objects given up as
    'failed' a WARN."""
    summary = ledger_summary(conn, start, end)
    objects = sum(count for count, _ in summary.values())
    pending = sum(count for status, (count, _) in summary.items() if status not in FINAL_STATUSES)
    failed = summary.get("failed", (0, 0))[0]
    examples = "\n".join(f"| `{key}` | {status} |" for key, status in unfinished_entries(conn, start, end, LISTED_EXAMPLES))
    outcome = CheckOutcome(
        passed=not pending and not failed,
        severity=Severity.ERROR if pending else Severity.WARN,
        description=f"{pending} pending, {failed} failed (given up) of {objects} objects in the ledger",
        metadata={
            "objects in ledger": objects,
            "pending": pending,
            "failed": failed,
            "missing (deleted)": summary.get("missing", (0, 0))[0],
            "examples": Markdown("| key | state |\n|---|---|\n" + (examples or "| (none) | |")),
        },
    )
    return outcome, pending


def pending_objects_message(pending_by_day: dict[date, int]) -> str:
    """Why a run whose days still have pending objects fails (after its aggregates refreshed)."""
    return (
        f"{sum(pending_by_day.values())} objects of {', '.join(map(str, pending_by_day))} are still pending: the "
        "rows that loaded are in and aggregated; the sensor requests another run for the pending ones"
    )
