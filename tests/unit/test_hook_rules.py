"""The pure rules of webhooks: which targets are allowed, Retry-After, the retry schedule."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.hooks.delivery import (
    JITTER,
    MAX_ATTEMPTS,
    RETRY_SCHEDULE_S,
    parse_retry_after,
    retry_delay,
)
from core.hooks.targets import RefusedTarget, check_target, is_public

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",  # cloud metadata
        "100.64.0.1",  # shared address space (carrier NAT)
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",  # AWS metadata over IPv6
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "2002:7f00:1::1",  # 6to4 of 127.0.0.1
        "64:ff9b::7f00:1",  # NAT64 (RFC 6052) of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of the metadata address
        "64:ff9b:1:7f00:0:1::",  # local-use NAT64 /48 of 127.0.0.1
        "64:ff9b:1:a9fe:a9:fe00::",  # local-use NAT64 /48 of 169.254.169.254
        "::127.0.0.1",  # IPv4-compatible loopback
        "::169.254.169.254",
        "::ffff:0:7f00:1",  # IPv4-translated (SIIT) loopback
        "::ffff:0:a00:1",  # SIIT of 10.0.0.1
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo whose client is 192.0.2.45
        "ff02::1",
    ],
)
def test_internal_addresses_are_not_public(address: str) -> None:
    assert not is_public(address)


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "64:ff9b::808:808", "::ffff:0:808:808"],
)
def test_public_addresses_are(address: str) -> None:
    assert is_public(address)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/x", "http"),
        ("https:///no-host", "http"),
        ("https://user:pw@93.184.216.34/x", "credentials"),
        ("http://93.184.216.34/x", "https"),
        ("https://93.184.216.34:99999/x", "URL"),
        ("https://10.1.2.3/x", "private"),
    ],
)
def test_refused_targets_say_why(url: str, reason: str) -> None:
    with pytest.raises(RefusedTarget, match=reason):
        check_target(url, allow_private=False, resolver=lambda _h, _p: ["93.184.216.34"])


def test_every_address_of_a_name_must_be_public() -> None:
    def resolver(_host: str, _port: int) -> list[str]:
        return ["93.184.216.34", "10.0.0.7"]  # one internal answer is enough to refuse

    with pytest.raises(RefusedTarget):
        check_target("https://hooks.example.com/x", allow_private=False, resolver=resolver)


def test_the_checked_address_is_where_it_connects() -> None:
    target = check_target(
        "https://hooks.example.com:8443/zap?x=1", False, lambda _h, _p: ["2606:4700::6810:85e5"]
    )
    assert target.pinned_url() == "https://[2606:4700::6810:85e5]:8443/zap?x=1"
    assert (target.host, target.port) == ("hooks.example.com", 8443)


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert parse_retry_after("120", NOW) == 120.0
    assert parse_retry_after(format_datetime(NOW + timedelta(minutes=3), usegmt=True), NOW) == 180
    assert parse_retry_after(format_datetime(NOW - timedelta(minutes=3), usegmt=True), NOW) == 0
    assert parse_retry_after("soon", NOW) is None
    assert parse_retry_after(None, NOW) is None


@given(st.integers(1, MAX_ATTEMPTS + 3), st.integers(0, 2**32))
def test_the_schedule_within_its_jitter_then_given_up(attempts: int, seed: int) -> None:
    delay = retry_delay(attempts, None, random.Random(seed))
    if attempts >= MAX_ATTEMPTS:
        assert delay is None
    else:
        planned = RETRY_SCHEDULE_S[attempts - 1]
        assert delay is not None and planned * (1 - JITTER) <= delay <= planned * (1 + JITTER)


@given(st.integers(1, MAX_ATTEMPTS - 1), st.floats(0, 10**7, allow_nan=False))
def test_retry_after_replaces_the_schedule_within_a_day(attempts: int, after: float) -> None:
    delay = retry_delay(attempts, after, random.Random(0))
    assert delay == min(max(after, 1.0), 86400)
