"""The one daily partitioning: UTC days of upload (an object's LastModified).

The current day is a partition too (end_offset=1), so objects that land today load today.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from dagster import DailyPartitionsDefinition

from heimdall_pipeline.core.settings import DEFAULT_PARTITIONS_START_DATE as DEFAULT_START_DATE  # noqa: F401
from heimdall_pipeline.core.settings import partitions_start_date

daily_partitions = DailyPartitionsDefinition(
    start_date=partitions_start_date(),
    timezone="UTC",
    end_offset=1,
)


def day_window(partition_key: str) -> tuple[datetime, datetime]:
    """[start, end) in UTC of a daily partition key (YYYY-MM-DD)."""
    start = datetime.strptime(partition_key, "%Y-%m-%d").replace(tzinfo=UTC)
    return start, start + timedelta(days=1)
