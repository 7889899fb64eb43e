"""Credentials as `Authorization: Bearer ...`, parsed once for both services; declaring the
scheme puts it in the OpenAPI document (and an Authorize button in /docs)."""

from __future__ import annotations

from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from core.errors import Unauthorized

Credentials = HTTPAuthorizationCredentials | None


def bearer_scheme(name: str, description: str) -> HTTPBearer:
    return HTTPBearer(scheme_name=name, description=description, auto_error=False)


def bearer_token(credentials: Credentials, what: str) -> str:
    """The token, or a 401 saying how to send `what`."""
    token = credentials.credentials.strip() if credentials else ""
    if not token:
        raise Unauthorized(
            "unauthenticated",
            f"send {what} as `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return token
