"""Opaque cursors for newest-first lists: the sort key of the last item of a page."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from core.errors import ApiError

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
        raise ApiError(
            422,
            "invalid_request",
            "the cursor is not one this API returned",
            [("cursor", "invalid")],
        ) from exc
