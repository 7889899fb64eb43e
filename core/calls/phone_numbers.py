"""Phone number normalisation to E.164 and masking for display: pure functions, no keys involved."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers

from schemas.payloads import NO_NUMBER_MARKERS

_DIALABLE = re.compile(r"[^0-9+]")


# Call logs repeat the same clients all day: parsing is the worker's largest cost, so both
# pure functions keep a bounded cache (in process memory only, like the event they came from).
@lru_cache(maxsize=65_536)
def normalise_number(raw: str, default_region: str) -> str | None:
    """The client key of a dialled/received number, or None when the call has no usable number.

    Numbers that phonenumbers accepts as possible become E.164 (`+919876543210`), read with the
    company's country as the default region. Short codes and service numbers that are no possible
    subscriber number (`121`, `*123#`) keep their digits, so they still group as one client.
    """
    text = raw.strip()
    if text.lower() in NO_NUMBER_MARKERS:
        return None
    dialable = _DIALABLE.sub("", text)
    digits = dialable.lstrip("+")
    if not digits or not digits.isdigit():
        return None
    try:
        parsed = phonenumbers.parse(dialable, default_region.upper())
    except phonenumbers.NumberParseException:
        return digits
    if phonenumbers.is_possible_number(parsed):
        return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return digits


def country_code(e164: str) -> str:
    """The calling code of an E.164 number: calling codes are prefix-free, so the one prefix
    of 1-3 digits that is a code is it (a dict lookup instead of parsing the number again)."""
    for length in (1, 2, 3):
        if int(e164[1 : 1 + length] or 0) in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            return e164[1 : 1 + length]
    return ""


@lru_cache(maxsize=65_536)
def mask_number(number: str) -> str:
    """`+919876543210` -> `+91******3210`: country code and last four digits stay visible."""
    if not number.startswith("+"):
        keep = 2 if len(number) <= 6 else 4
        return "*" * (len(number) - keep) + number[-keep:]
    code = country_code(number)
    national = number[1 + len(code) :]
    keep = min(4, max(len(national) - 2, 0))
    return f"+{code}" + "*" * (len(national) - keep) + national[len(national) - keep :]
