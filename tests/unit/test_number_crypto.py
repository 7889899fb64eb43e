"""Envelope encryption and the blind index."""

from __future__ import annotations

import os

import pytest

from core.number_crypto import (
    CompanyKeys,
    DecryptionError,
    blind_index,
    decrypt_number,
    encrypt_number,
    new_wrapped_data_key,
    unwrap_company_keys,
)

MASTER = os.urandom(32)


def keys_for(company_id: str, master: bytes = MASTER) -> CompanyKeys:
    return unwrap_company_keys(master, company_id, new_wrapped_data_key(master, company_id))


def test_round_trip_and_randomised_ciphertext() -> None:
    keys = keys_for("c1")
    first, second = encrypt_number(keys, "+919876543210"), encrypt_number(keys, "+919876543210")
    assert first != second  # a fresh nonce each time: equal numbers are not linkable by ciphertext
    assert decrypt_number(keys, first) == decrypt_number(keys, second) == "+919876543210"
    assert "9876543210" not in first


def test_wrong_keys_fail() -> None:
    wrapped = new_wrapped_data_key(MASTER, "c1")
    with pytest.raises(DecryptionError):
        unwrap_company_keys(os.urandom(32), "c1", wrapped)  # another master key
    with pytest.raises(DecryptionError):
        unwrap_company_keys(MASTER, "c2", wrapped)  # a key moved to another company
    sealed = encrypt_number(keys_for("c1"), "+919876543210")
    with pytest.raises(DecryptionError):
        decrypt_number(keys_for("c1"), sealed)  # another data key of the same company


def test_blind_index_stable_per_company_and_different_across_companies() -> None:
    wrapped = new_wrapped_data_key(MASTER, "c1")
    keys, same_keys_later = (unwrap_company_keys(MASTER, "c1", wrapped) for _ in range(2))
    assert blind_index(keys, "+919876543210") == blind_index(same_keys_later, "+919876543210")
    assert blind_index(keys, "+919876543210") != blind_index(keys, "+919876543211")
    assert blind_index(keys, "+919876543210") != blind_index(keys_for("c2"), "+919876543210")
    assert len(blind_index(keys, "+919876543210")) == 32
