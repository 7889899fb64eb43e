"""Passwords: argon2id hashes, and the rule a new password must meet (at least 10 characters,
not among the leaked passwords of the list zxcvbn ships, compared case-insensitively)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import AfterValidator, Field
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from core.errors import Unavailable

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


# argon2 takes ~64 MiB and tens of milliseconds of a core per hash: at most one per core runs at
# once, and a hash past that is refused at once (503) instead of queueing threads and memory.
# Callers hold no database connection while hashing.
_hashing = threading.BoundedSemaphore(os.cpu_count() or 2)


@contextmanager
def hashing_slot() -> Iterator[None]:
    """A slot to run argon2 in; 503 with `Retry-After` when every core is hashing already."""
    if not _hashing.acquire(blocking=False):
        raise Unavailable(
            "busy",
            "too many sign-ins at once: retry in 1 s",
            headers={"Retry-After": "1"},
        )
    try:
        yield
    finally:
        _hashing.release()


def hash_password(password: str) -> str:
    with hashing_slot():
        return hasher.hash(password)


def verify(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches; False without a hash (an unknown email, an invitation not
    accepted yet), after the same argon2 work."""
    try:
        with hashing_slot():
            matches = hasher.verify(password_hash or _NOBODY, password)
    except (VerificationError, InvalidHashError):
        return False
    return matches and bool(password_hash)
