"""Opaque cursors for newest-first lists: the sort key of the last item of a page."""

from __future__ import annotations

import base64
import binascii
import json

from schemas.errors import ApiError


def encode_cursor(sort_ts: int, key: str) -> str:
    return base64.urlsafe_b64encode(json.dumps([sort_ts, key]).encode()).decode()


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        sort_ts, key = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        return int(sort_ts), str(key)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ApiError(
            422,
            "invalid_request",
            "the cursor is not one this API returned",
            [("cursor", "invalid")],
        ) from exc
