"""How a materialization's metadata reads in the UI: the few headline figures first, the counters
that say something next (zeros left out), tables and plots after; a ranged run's totals only under
"run range: " names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from dagster import AssetExecutionContext, MaterializeResult, MetadataValue

RANGE = "run range: "  # prefix of the figures of a whole ranged run (never a day's own numbers)
ROW_COUNT = "dagster/row_count"


def _zero(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value == 0


def headline_first(metadata: Mapping[str, object], headline: Sequence[str]) -> dict:
    """`headline` keys first, in that order, zero or not; then the other entries in their order, except
    counters at zero (twenty rows of zeros hid the figures that mattered)."""
    first = {key: metadata[key] for key in (ROW_COUNT, *headline) if key in metadata}
    rest = {key: value for key, value in metadata.items() if key not in first and not _zero(value)}
    return {**first, **rest}


def partition_report(context: AssetExecutionContext, per_day: dict[date, dict], range_figures: dict) -> MaterializeResult:
    """One partition: its metadata. A ranged run: each partition's own metadata on its own
    materialization event, and the range's totals only under "run range: " names."""
    if len(per_day) == 1:
        return MaterializeResult(metadata=next(iter(per_day.values())))
    for day, metadata in per_day.items():
        context.add_asset_metadata(metadata, partition_key=day.isoformat())
    days = list(per_day)
    return MaterializeResult(
        metadata={
            f"{RANGE}upload days": MetadataValue.text(f"{days[0]} .. {days[-1]} ({len(days)} days)"),
            **{f"{RANGE}{name}": value for name, value in range_figures.items()},
        }
    )
