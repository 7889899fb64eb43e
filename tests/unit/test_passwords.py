"""Password checks: no hash (unknown email, invitation not accepted) never matches."""

from __future__ import annotations

from api.auth.passwords import hasher, verify


def test_only_the_password_of_a_hash_matches() -> None:
    stored = hasher.hash("a long enough passphrase")
    assert verify(stored, "a long enough passphrase")
    assert not verify(stored, "another passphrase entirely")


def test_without_a_hash_nothing_matches() -> None:
    for missing in (None, ""):
        assert not verify(missing, "no user has this password")  # the dummy's own password
