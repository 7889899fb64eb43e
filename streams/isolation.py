"""Storing a batch when ClickHouse refuses part of it: bisect the batch down to the records whose
rows it refuses, set those aside with the reason and store the rest. A refusal of one record
must never block a partition; an outage (any error that is no refusal) is left to the caller's
retry, which starts the batch again (replacing tables make the repeated halves harmless)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from core.clickhouse import refusal_reason

Record = TypeVar("Record")
Rows = list[tuple[Any, ...]]


async def insert_isolating(
    insert: Callable[[Rows], Awaitable[None]],
    batch: Sequence[tuple[Record, Rows]],
) -> list[tuple[Record, str]]:
    """Insert every record's rows; returns the records ClickHouse refused, with the reason.
    Raises what `insert` raised when it is no refusal (an outage)."""
    rows = [row for _record, record_rows in batch for row in record_rows]
    if not rows:
        return []
    try:
        await insert(rows)
        return []
    except Exception as exc:
        reason = refusal_reason(exc)
        if reason is None:
            raise
        if len(batch) == 1:
            return [(batch[0][0], f"ClickHouse refused its rows ({reason})")]
    middle = len(batch) // 2
    return [
        *await insert_isolating(insert, batch[:middle]),
        *await insert_isolating(insert, batch[middle:]),
    ]
