"""The console's session: the access token in an HttpOnly cookie and the CSRF rule for requests
authenticated by it. A browser sends cookies with every request to the origin, so a request
that writes must also prove it came from the console's own script: the `X-CSRF-Token` header
holding a value derived from the session (the `cc_csrf` cookie, which only a page of this
origin can read), and no foreign `Origin`. SameSite=Strict keeps the cookie off cross-site
requests too; the token also stops same-site pages on other ports, which SameSite does not."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from fastapi import Request, Response

from core.errors import ApiError
from core.tokens import digest, same_text

SESSION_COOKIE = "cc_session"
CSRF_COOKIE = "cc_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token(access_token: str) -> str:
    """Derived from the session, so nothing more is stored and it ends with the session."""
    return digest(f"csrf:{access_token}")


def session_token(request: Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE) or None


def check_csrf(request: Request, access_token: str) -> None:
    """403 `csrf_failed` for a writing request without the session's token or from another
    origin."""
    if request.method in SAFE_METHODS:
        return
    origin = request.headers.get("origin")
    sent = request.headers.get(CSRF_HEADER, "")
    if foreign_origin(origin, request.headers.get("host", "")) or not same_text(
        sent, csrf_token(access_token)
    ):
        raise ApiError(
            403,
            "csrf_failed",
            "a write authenticated by the console's cookie needs its X-CSRF-Token header from "
            "a page of this origin: reload the console",
        )


def foreign_origin(origin: str | None, host: str) -> bool:
    """Whether `Origin` names another host or port than the request's (host and port only:
    behind a TLS proxy this process sees http for an https page); one that is not a URL is
    foreign."""
    if origin is None:
        return False
    try:
        return urlsplit(origin).netloc != host
    except ValueError:  # `http://[`: not a URL
        return True


def set_session(response: Response, access_token: str, expires_at: datetime, secure: bool) -> None:
    for name, value, http_only in (
        (SESSION_COOKIE, access_token, True),
        (CSRF_COOKIE, csrf_token(access_token), False),  # the console's script reads it
    ):
        response.set_cookie(
            name,
            value,
            expires=expires_at,
            path="/",
            secure=secure,
            httponly=http_only,
            samesite="strict",
        )


def clear_session(response: Response, secure: bool) -> None:
    for name, http_only in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", secure=secure, httponly=http_only, samesite="strict")
