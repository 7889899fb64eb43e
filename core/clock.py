"""The one clock: now, in UTC. Code below the edges takes the time as an argument (tests pass
their own); the edges read it here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso_or_none(at: datetime | None) -> str | None:
    """An instant for an audit entry's details (RFC 3339), or None."""
    return at.isoformat() if at else None


def file_clock(path: Path | None) -> Callable[[], datetime]:
    """`utc_now`, or for an end-to-end test (CLOSECALL_CLOCK_FILE, refused in production) the
    instant the file holds (ISO 8601 with an offset) while it holds one."""
    if path is None:
        return utc_now
    clock_file = path

    def now() -> datetime:
        try:
            return datetime.fromisoformat(clock_file.read_text().strip())
        except (OSError, ValueError):
            return utc_now()

    return now
