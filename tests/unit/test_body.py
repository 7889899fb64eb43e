"""Body limits: raw size, gzip bombs, bad gzip."""

from __future__ import annotations

import gzip

import pytest

from ingest.body import gunzip_bounded
from schemas.errors import ApiError


def test_gzip_within_limit() -> None:
    assert gunzip_bounded(gzip.compress(b"x" * 1000), 1000) == b"x" * 1000


def test_gzip_bomb_is_413_without_inflating_it() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)  # ~50 KB that inflates to 50 MB
    with pytest.raises(ApiError) as raised:
        gunzip_bounded(bomb, 1_000_000)
    assert raised.value.status == 413


@pytest.mark.parametrize("data", [b"not gzip", gzip.compress(b"{}")[:-6]])
def test_invalid_or_truncated_gzip_is_422(data: bytes) -> None:
    with pytest.raises(ApiError) as raised:
        gunzip_bounded(data, 1000)
    assert raised.value.status == 422
