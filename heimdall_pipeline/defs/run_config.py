"""Helpers for the fields of run config that several jobs share."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional


def utc_or_now(text: Optional[str]) -> datetime:
    """An ISO 8601 time from config (naive means UTC), or now."""
    if not text:
        return datetime.now(timezone.utc)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
