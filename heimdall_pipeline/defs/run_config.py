"""Helpers for the fields of run config that several jobs share."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_or_now(text: str | None) -> datetime:
    """An ISO 8601 time from config (naive means UTC), or now."""
    if not text:
        return datetime.now(UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
