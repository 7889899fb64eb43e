"""What a ClickHouse column can hold, as bounds for the payload fields stored in it: the one
place the agent payloads take their integer and time limits from (a value ingest accepts must
insert; tests/test_payload_bounds.py inserts values at the bounds into both backends)."""

from __future__ import annotations

from datetime import UTC, datetime

from annotated_types import Interval

INTEGER_COLUMNS: dict[str, tuple[int, int]] = {
    "Int8": (-(2**7), 2**7 - 1),
    "Int16": (-(2**15), 2**15 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "UInt8": (0, 2**8 - 1),
    "UInt16": (0, 2**16 - 1),
    "UInt32": (0, 2**32 - 1),
}

# DateTime('UTC') holds 1970-01-01 to 2106-02-07. Phones report their own calls: a time before
# 2000 is a wrong clock or a broken call log, not a call, and is an error of that record.
EARLIEST_TIME = datetime(2000, 1, 1, tzinfo=UTC)
LATEST_TIME = datetime(2100, 1, 1, tzinfo=UTC)


def stored_as(column: str, ge: int | None = None, le: int | None = None) -> Interval:
    """Field bounds of an integer kept in a `column` ClickHouse column, optionally narrower."""
    low, high = INTEGER_COLUMNS[column]
    return Interval(
        ge=low if ge is None else max(low, ge), le=high if le is None else min(high, le)
    )
