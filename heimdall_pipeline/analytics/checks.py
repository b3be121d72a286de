"""What the check on measurements_hourly concludes, without Dagster (heimdall_pipeline.ingest.checks
has the outcome type and the ingest checks)."""

from __future__ import annotations

from datetime import datetime

import psycopg

from heimdall_pipeline.analytics.aggregates import day_bounds, days_to_aggregate, hourly_mismatches, is_day_dropped
from heimdall_pipeline.ingest.checks import LISTED_EXAMPLES, CheckOutcome, Markdown, Severity


def hourly_matches_rows(conn: psycopg.Connection, start: datetime, end: datetime) -> CheckOutcome:
    """measurements_hourly equals a recomputation from measurements for every measurement day the
    upload window [start, end) covers (ERROR: nothing should build on aggregates that disagree)."""
    mismatches = []
    # Days retention dropped are compared against their archive by the retention job instead.
    days = [day for day in days_to_aggregate(conn, start, end) if not is_day_dropped(conn, day)]
    for day in days:
        mismatches += hourly_mismatches(conn, *day_bounds(day))
    rows = "\n".join(
        f"| {bucket.isoformat()} | {websdr_id} | {frequency} | {expected} | {actual} |"
        for bucket, websdr_id, frequency, expected, actual in mismatches[:LISTED_EXAMPLES]
    )
    return CheckOutcome(
        passed=not mismatches,
        severity=Severity.ERROR,
        metadata={
            "days compared": ", ".join(str(d) for d in days),
            "mismatched groups": len(mismatches),
            "mismatches (first)": Markdown(
                "| hour | receiver | MHz | expected count | actual count |\n|---|---|---|---|---|\n"
                + (rows or "| (none) | | | | |")
            ),
        },
    )
