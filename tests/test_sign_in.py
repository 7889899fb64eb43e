"""Signing in through the real stack: password rules, the same 401 for unknown and wrong,
lockout and its end, TOTP with codes computed by pyotp (a code accepted once), logout."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyotp
import sqlalchemy as sa

from core.controlplane import login_failures, make_engine
from tests.support.stack import Stack

PASSWORD = "correct horse battery staple"


def login(stack: Stack, email: str, password: str = PASSWORD, **extra: Any) -> httpx.Response:
    return stack.api.post("/v1/auth/login", json={"email": email, "password": password, **extra})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_new_passwords_follow_the_rule(module_stack: Stack) -> None:
    body = {"company_name": "Weak", "country": "IN", "email": "o@weak.example"}
    for password in ("password123", "QWERTYUIOP", "short"):
        answer = module_stack.api.post("/v1/signup", json={**body, "password": password})
        assert answer.status_code == 422
        assert [f["path"] for f in answer.json()["error"]["fields"]] == ["password"]


def test_login_me_and_logout(module_stack: Stack) -> None:
    stack = module_stack
    stack.signup("Signin")
    token = login(stack, "owner@signin.example")
    assert token.status_code == 200 and token.json()["token_type"] == "bearer"
    me = stack.api.get("/v1/me", headers=bearer(token.json()["access_token"])).json()
    assert me["user"]["role"] == "owner" and me["api_key"] is None
    wrong = login(stack, "owner@signin.example", "not the password at all")
    unknown = login(stack, "nobody@signin.example")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    auth = bearer(token.json()["access_token"])
    assert stack.api.post("/v1/auth/logout", headers=auth).status_code == 204
    assert stack.api.get("/v1/me", headers=auth).status_code == 401


def test_lockout_after_five_failures_and_its_end(module_stack: Stack) -> None:
    stack = module_stack
    stack.signup("Lockout")
    email = "owner@lockout.example"
    for _ in range(5):
        assert login(stack, email, "wrong password, again").status_code == 401
    locked = login(stack, email)  # even the right password
    assert locked.status_code == 429 and 880 <= int(locked.headers["retry-after"]) <= 900
    engine = make_engine(stack.env["CLOSECALL_DATABASE_URL"])
    with engine.begin() as db:  # 16 minutes pass
        rows = db.execute(sa.select(login_failures.c.id, login_failures.c.failed_at)).all()
        for row in rows:
            earlier = row.failed_at - timedelta(minutes=16)
            db.execute(
                login_failures.update()
                .where(login_failures.c.id == row.id)
                .values(failed_at=earlier)
            )
    engine.dispose()
    assert login(stack, email).status_code == 200


def test_totp_enrolment_and_each_code_once(module_stack: Stack) -> None:
    stack = module_stack
    key = stack.signup("Totp")["api_key"]
    assert stack.api.post("/v1/auth/totp", headers=bearer(key)).json()["error"]["code"] == (
        "user_required"
    )
    email = "owner@totp.example"
    auth = bearer(login(stack, email).json()["access_token"])
    setup = stack.api.post("/v1/auth/totp", headers=auth).json()
    assert setup["otpauth_uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(setup["secret"])
    while time.time() % 30 > 25:  # keep the test's three codes inside one window
        time.sleep(1)
    now = datetime.now(UTC)
    earlier, current = totp.at(now, counter_offset=-1), totp.at(now)
    stale = totp.at(now - timedelta(minutes=10))  # a real code, long expired
    bad = stack.api.post("/v1/auth/totp/confirm", json={"otp": stale}, headers=auth)
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["path"] == "otp"
    confirmed = stack.api.post("/v1/auth/totp/confirm", json={"otp": earlier}, headers=auth)
    assert confirmed.status_code == 204
    assert login(stack, email).json()["error"]["code"] == "otp_required"
    assert login(stack, email, otp=earlier).json()["error"]["code"] == "otp_required"  # used
    signed = login(stack, email, otp=current)
    assert signed.status_code == 200
    again = login(stack, email, otp=current)  # a replay within its window
    assert again.status_code == 401 and again.json()["error"]["code"] == "otp_required"
    later = totp.at(now, counter_offset=1)
    off = stack.api.request(
        "DELETE",
        "/v1/auth/totp",
        json={"otp": later},
        headers=bearer(signed.json()["access_token"]),
    )
    assert off.status_code == 204, off.text
    assert login(stack, email).status_code == 200
