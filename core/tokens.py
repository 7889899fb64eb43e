"""Secrets handed out once (API keys, device tokens, enrollment codes) and how they are stored:
high-entropy random strings, kept only as SHA-256 digests (no KDF needed at 256 bits of entropy)."""

from __future__ import annotations

import hashlib
import hmac
import secrets

_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: typed by hand on a phone


def new_secret(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


def new_enrollment_code() -> str:
    body = "".join(secrets.choice(_CODE_ALPHABET) for _ in range(12))
    return f"{body[:4]}-{body[4:8]}-{body[8:]}"


def normalise_enrollment_code(code: str) -> str:
    return code.strip().upper().replace(" ", "").replace("-", "")


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_text(sent: str, expected: str) -> bool:
    """A constant-time comparison of a secret on bytes, so any text a client sends compares
    (`hmac.compare_digest` refuses non-ASCII str)."""
    return hmac.compare_digest(sent.encode(), expected.encode())
