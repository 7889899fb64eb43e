"""Body limits: raw size, gzip bombs, bad gzip."""

from __future__ import annotations

import gzip

import pytest

from core.errors import DomainError
from core.request_body import gunzip_bounded, parse_json


def test_gzip_within_limit() -> None:
    assert gunzip_bounded(gzip.compress(b"x" * 1000), 1000) == b"x" * 1000


def test_gzip_bomb_is_413_without_inflating_it() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)  # ~50 KB that inflates to 50 MB
    with pytest.raises(DomainError) as raised:
        gunzip_bounded(bomb, 1_000_000)
    assert raised.value.status == 413


@pytest.mark.parametrize("data", [b"not gzip", gzip.compress(b"{}")[:-6]])
def test_invalid_or_truncated_gzip_is_422(data: bytes) -> None:
    with pytest.raises(DomainError) as raised:
        gunzip_bounded(data, 1000)
    assert raised.value.status == 422


def test_every_gzip_member_is_read() -> None:
    body = gzip.compress(b'{"calls": [') + gzip.compress(b"]}")
    assert gunzip_bounded(body, 1000) == b'{"calls": []}'


def test_members_count_together_against_the_limit() -> None:
    with pytest.raises(DomainError) as raised:
        gunzip_bounded(gzip.compress(b"x" * 600) + gzip.compress(b"x" * 600), 1000)
    assert raised.value.status == 413


def test_garbage_after_a_member_is_refused() -> None:
    with pytest.raises(DomainError) as raised:
        gunzip_bounded(gzip.compress(b"{}") + b"trailing", 1000)
    assert raised.value.status == 422


@pytest.mark.parametrize(
    "raw",
    [b"[" * 500_000, b'{"a": ' + b"9" * 5000 + b"}", b'{"a": NaN}', b"[Infinity]", b"\xff"],
)
def test_hostile_json_is_422(raw: bytes) -> None:
    with pytest.raises(DomainError) as raised:
        parse_json(raw)
    assert raised.value.status == 422 and raised.value.code == "invalid_json"


def test_integers_up_to_a_hundred_digits_parse() -> None:
    assert parse_json(b"[" + b"9" * 100 + b", -1]") == [10**100 - 1, -1]
