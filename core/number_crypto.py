"""Envelope encryption of phone numbers: per-company data keys wrapped by the master key,
AES-GCM ciphertexts and a keyed HMAC blind index so equal numbers group without decryption."""

from __future__ import annotations

import base64
import hmac
import os
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE_BYTES = 12
_DATA_KEY_BYTES = 32
_BLIND_INDEX_BYTES = 16


# The master key, or during a rotation (`closecall rotate-master-key`) the new one and the
# previous one: data keys are wrapped under the first, unwrapped under whichever opens them.
MasterKey = bytes | tuple[bytes, ...]


def master_keys(master_key: MasterKey) -> tuple[bytes, ...]:
    return master_key if isinstance(master_key, tuple) else (master_key,)


class DecryptionError(Exception):
    """A wrapped key or ciphertext failed authentication: wrong master key or tampered data."""


@dataclass(frozen=True, slots=True)
class CompanyKeys:
    company_id: str
    encryption_key: bytes
    index_key: bytes
    cipher: AESGCM = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "cipher", AESGCM(self.encryption_key))  # built once per company


def _derive(data_key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(data_key)


def _seal(cipher: AESGCM, plaintext: bytes, aad: bytes) -> str:
    nonce = os.urandom(_NONCE_BYTES)
    return base64.b64encode(nonce + cipher.encrypt(nonce, plaintext, aad)).decode()


def _open(cipher: AESGCM, sealed: str, aad: bytes) -> bytes:
    raw = base64.b64decode(sealed)
    try:
        return cipher.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad)
    except Exception as exc:  # cryptography raises InvalidTag; keep one error type for callers
        raise DecryptionError("authentication failed: wrong key or tampered ciphertext") from exc


def new_wrapped_data_key(master_key: MasterKey, company_id: str) -> str:
    """A fresh company data key, sealed under the master key (store this, never the key itself)."""
    return wrap_data_key(master_key, company_id, os.urandom(_DATA_KEY_BYTES))


def wrap_data_key(master_key: MasterKey, company_id: str, data_key: bytes) -> str:
    return _seal(AESGCM(master_keys(master_key)[0]), data_key, _wrap_aad(company_id))


def unwrap_data_key(master_key: MasterKey, company_id: str, wrapped_data_key: str) -> bytes:
    """The data key, under the current master key or else the previous one."""
    *others, last = master_keys(master_key)
    for key in others:
        try:
            return _open(AESGCM(key), wrapped_data_key, _wrap_aad(company_id))
        except DecryptionError:
            continue
    return _open(AESGCM(last), wrapped_data_key, _wrap_aad(company_id))


def unwrap_company_keys(
    master_key: MasterKey, company_id: str, wrapped_data_key: str
) -> CompanyKeys:
    data_key = unwrap_data_key(master_key, company_id, wrapped_data_key)
    return CompanyKeys(
        company_id=company_id,
        encryption_key=_derive(data_key, b"closecall/number-encryption/v1"),
        index_key=_derive(data_key, b"closecall/blind-index/v1"),
    )


def encrypt_number(keys: CompanyKeys, number: str) -> str:
    return _seal(keys.cipher, number.encode(), keys.company_id.encode())


def decrypt_number(keys: CompanyKeys, sealed: str) -> str:
    return _open(keys.cipher, sealed, keys.company_id.encode()).decode()


def encrypt_secret(keys: CompanyKeys, secret: str) -> str:
    """A secret the system must use again (a hook's signing secret), bound to its company."""
    return _seal(keys.cipher, secret.encode(), b"closecall/secret/v1:" + keys.company_id.encode())


def decrypt_secret(keys: CompanyKeys, sealed: str) -> str:
    return _open(keys.cipher, sealed, b"closecall/secret/v1:" + keys.company_id.encode()).decode()


def blind_index(keys: CompanyKeys, number: str) -> str:
    """Deterministic per company, unlinkable across companies: the grouping key of a client."""
    digest = hmac.digest(keys.index_key, number.encode(), "sha256")  # one-shot: the fast path
    return digest[:_BLIND_INDEX_BYTES].hex()


def _wrap_aad(company_id: str) -> bytes:
    return b"closecall/data-key/v1:" + company_id.encode()
