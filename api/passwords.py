"""Passwords: argon2id hashes, and the rule a new password must meet (at least 10 characters,
not among the leaked passwords of the list zxcvbn ships, compared case-insensitively)."""

from __future__ import annotations

from typing import Annotated

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import AfterValidator, Field
from zxcvbn.frequency_lists import FREQUENCY_LISTS

hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
LEAKED = frozenset(FREQUENCY_LISTS["passwords"])
# verified against when the email is unknown, so both answers take the same time
_NOBODY = hasher.hash("no user has this password")


def not_leaked(password: str) -> str:
    if password.lower() in LEAKED:
        raise ValueError("is a well-known leaked password: choose another")
    return password


NewPassword = Annotated[
    str,
    Field(min_length=10, max_length=256, description="at least 10 characters, not a leaked one"),
    AfterValidator(not_leaked),
]


def verify(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; False without a hash (an unknown email, an invitation not
    accepted yet), after the same argon2 work."""
    try:
        matches = hasher.verify(password_hash or _NOBODY, password)
    except (VerificationError, InvalidHashError):
        return False
    return matches and bool(password_hash)
