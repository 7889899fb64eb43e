"""Normalisation to E.164 and masking."""

from __future__ import annotations

import re

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.calls.phone_numbers import country_code, mask_number, normalise_number


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("9876543210", "IN", "+919876543210"),
        ("098765 43210", "IN", "+919876543210"),
        ("+91-98765-43210", "IN", "+919876543210"),
        ("0091 98765 43210", "IN", "+919876543210"),
        ("(+91) 9876543210", "IN", "+919876543210"),
        ("+1 (212) 555-0123", "IN", "+12125550123"),
        ("(212) 555-0123", "US", "+12125550123"),
        ("030 1234567", "DE", "+49301234567"),
        ("121", "IN", "121"),  # a carrier service number keeps its digits
        ("*123#", "IN", "123"),
        ("", "IN", None),
        ("   ", "IN", None),
        ("-2", "IN", None),
        ("PRIVATE", "IN", None),
        ("Unknown", "US", None),
        ("abc", "IN", None),
    ],
)
def test_normalise_number(raw: str, region: str, expected: str | None) -> None:
    assert normalise_number(raw, region) == expected


def test_same_number_written_differently_is_one_client() -> None:
    forms = ["9876543210", "+919876543210", "+91 98765 43210", "09876543210", "0091-9876543210"]
    assert {normalise_number(form, "IN") for form in forms} == {"+919876543210"}


@given(st.text(max_size=40), st.sampled_from(["IN", "US", "DE", "GB", "BR"]))
def test_normalise_never_raises_and_is_idempotent(raw: str, region: str) -> None:
    normalised = normalise_number(raw, region)
    if normalised is not None:
        assert re.fullmatch(r"\+?\d+", normalised)
        assert normalise_number(normalised, region) == normalised


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+919876543210", "+91******3210"),
        ("+12125550123", "+1******0123"),
        ("121", "*21"),
        ("12345678", "****5678"),
    ],
)
def test_mask_number(number: str, masked: str) -> None:
    assert mask_number(number) == masked


@given(st.from_regex(r"\+[1-9]\d{7,13}", fullmatch=True))
def test_mask_never_reveals_more_than_four_trailing_digits(number: str) -> None:
    masked = mask_number(number)
    assert len(masked) == len(number)
    assert masked[-4:] == number[-4:] or "*" in masked[-4:]
    assert masked.count("*") >= len(number) - 1 - 3 - 4


@given(st.sampled_from(sorted(phonenumbers.SUPPORTED_REGIONS)), st.integers(10**6, 10**12))
def test_the_calling_code_of_a_masked_number_is_the_one_phonenumbers_reads(
    region: str, national: int
) -> None:
    number = normalise_number(str(national), region)
    if number is None or not number.startswith("+"):
        return
    assert country_code(number) == str(phonenumbers.parse(number).country_code)
