"""Paging, the same for every list: a page is at most `limit` items after a cursor; the cursor
is opaque to clients and holds the sort key of the last item seen, a sort value and its
tie-break (client lists: last call and client key; working hours: day ordinal and employee id;
call history: start and call id). A query asks for `limit + 1` rows to know whether more follow."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from core.errors import Invalid

MAX_CURSOR_CHARS = 512
MAX_KEY_CHARS = 64
SORT_VALUES = (0, 2**32 - 1)  # seconds since 1970 (the sort columns are DateTime / UInt32)


def encode_cursor(sort_value: int, key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([sort_value, key]).encode()).decode()


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is no cursor value")


def decode_cursor(cursor: str, sort_values: tuple[int, int] = SORT_VALUES) -> tuple[int, str]:
    """The (sort value, key) a cursor holds: exactly what `encode_cursor` writes, with the sort
    value within `sort_values`; anything else is a 422 on `cursor`."""
    try:
        if len(cursor) > MAX_CURSOR_CHARS:
            raise ValueError("too long")
        decoded = json.loads(
            base64.urlsafe_b64decode(cursor.encode()), parse_constant=_no_constants
        )
        match decoded:
            case [int(sort_value), str(key)] if not isinstance(sort_value, bool):
                pass
            case _:
                raise ValueError("not a cursor")
        if not sort_values[0] <= sort_value <= sort_values[1] or len(key) > MAX_KEY_CHARS:
            raise ValueError("out of range")
        return sort_value, key
    except (binascii.Error, ValueError, RecursionError, UnicodeError) as exc:
        raise Invalid(
            "invalid_request",
            "the cursor is not one this API returned",
            [("cursor", "invalid")],
        ) from exc


SortKey = tuple[int, str]
Item = TypeVar("Item")


@dataclass(frozen=True, slots=True)
class Page:
    limit: int
    after: SortKey | None = None  # the sort key of the last item of the previous page


def page_request(
    limit: int, cursor: str | None, sort_values: tuple[int, int] = SORT_VALUES
) -> Page:
    return Page(limit=limit, after=decode_cursor(cursor, sort_values) if cursor else None)


def limit_clause(page: Page | None, params: dict[str, Any]) -> str:
    """` LIMIT limit + 1` (one more than shown: whether another page follows); none unpaged."""
    if page is None:
        return ""
    params["limit"] = page.limit + 1
    return " LIMIT %(limit)s"


def cut(
    items: list[Item], page: Page, sort_key: Callable[[Item], SortKey]
) -> tuple[list[Item], SortKey | None]:
    """The page's items and, when more follow, the sort key the next page starts after."""
    if len(items) <= page.limit:
        return items, None
    return items[: page.limit], sort_key(items[page.limit - 1])


def next_cursor(after: SortKey | None) -> str | None:
    return encode_cursor(*after) if after else None
