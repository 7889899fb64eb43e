"""The console's cookie session: its cookies' attributes, and which writes the CSRF rule lets
through."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import Response
from starlette.requests import Request

from api.auth.console_session import check_csrf, csrf_token, set_session
from core.errors import ApiError

TOKEN = "cc_at_example-session"


def request(method: str, headers: dict[str, str]) -> Request:
    raw = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    scope = {
        "type": "http",
        "method": method,
        "scheme": "https",
        "path": "/v1/api-keys",
        "headers": [(b"host", b"console.example"), *raw],
        "query_string": b"",
    }
    return Request(scope)


@pytest.mark.parametrize("secure", [True, False])
def test_the_session_cookie_is_http_only_strict_and_secure_outside_local(secure: bool) -> None:
    response = Response()
    set_session(response, TOKEN, datetime(2030, 1, 1, tzinfo=UTC), secure)
    cookies = {value.split("=", 1)[0]: value for value in response.headers.getlist("set-cookie")}
    session, csrf = cookies["cc_session"].lower(), cookies["cc_csrf"].lower()
    assert "httponly" in session and "httponly" not in csrf
    assert "samesite=strict" in session and "samesite=strict" in csrf
    assert ("secure" in session.split("; ")) is secure
    assert csrf.startswith(f"cc_csrf={csrf_token(TOKEN)}")


OWN = "https://console.example"


@pytest.mark.parametrize(
    ("method", "headers", "allowed"),
    [
        ("GET", {}, True),  # reads need no token
        ("HEAD", {"origin": "https://evil.example"}, True),
        ("POST", {"x-csrf-token": csrf_token(TOKEN)}, True),
        ("DELETE", {"x-csrf-token": csrf_token(TOKEN), "origin": OWN}, True),
        # behind a TLS proxy the page is https and this process sees http: same host and port
        ("POST", {"x-csrf-token": csrf_token(TOKEN), "origin": "http://console.example"}, True),
        ("POST", {"x-csrf-token": csrf_token(TOKEN), "origin": f"{OWN}:8443"}, False),
        ("POST", {}, False),
        ("PATCH", {"x-csrf-token": "forged"}, False),
        ("POST", {"x-csrf-token": csrf_token("cc_at_another-session")}, False),
        ("POST", {"x-csrf-token": csrf_token(TOKEN), "origin": "https://evil.example"}, False),
        ("PUT", {"x-csrf-token": csrf_token(TOKEN), "origin": "null"}, False),
    ],
)
def test_a_write_needs_the_sessions_token_from_its_own_origin(
    method: str, headers: dict[str, str], allowed: bool
) -> None:
    if allowed:
        check_csrf(request(method, headers), TOKEN)
        return
    with pytest.raises(ApiError) as refused:
        check_csrf(request(method, headers), TOKEN)
    assert refused.value.status == 403 and refused.value.code == "csrf_failed"
