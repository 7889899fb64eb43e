"""Signing in: passwords checked with a lockout, access tokens (random, kept as digests, 12 h,
revocable), TOTP (RFC 6238 through pyotp) with each one-time password accepted once. The logic
behind api/auth/routes.py."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import pyotp
import sqlalchemy as sa
from pydantic import BaseModel, EmailStr, Field
from sqlalchemy.engine import Connection, Engine

from api.auth.passwords import verify
from core.audit import Actor, record
from core.controlplane import access_tokens, login_failures, users
from core.errors import Conflict, Invalid, TooManyRequests, Unauthorized, Unavailable
from core.qr import qr_data_uri
from core.tokens import digest, new_secret, same_text

ACCESS_TOKEN_PREFIX = "cc_at"
ACCESS_TOKEN_TTL = timedelta(hours=12)
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = timedelta(minutes=15)
TOTP_ISSUER = "closecall"


class LoginRequest(BaseModel):
    email: EmailStr
    password: str = Field(max_length=256)
    otp: str | None = Field(default=None, max_length=10, description="with TOTP on: the code")


class AccessToken(BaseModel):
    access_token: str = Field(description="send as `Authorization: Bearer ...`; shown once")
    token_type: str = "bearer"
    expires_at: datetime


class ConsoleSession(BaseModel):
    expires_at: datetime = Field(description="when the session cookie ends (12 h)")


class TotpSetup(BaseModel):
    secret: str = Field(description="base32, for authenticator apps without a QR code")
    otpauth_uri: str = Field(description="`otpauth://totp/...`, for a QR code")
    qr_png: str = Field(description="that QR code: a `data:image/png;base64,...` URI")


class OtpBody(BaseModel):
    otp: str = Field(max_length=10)


@dataclass(frozen=True, slots=True)
class SignedIn:
    user_id: str
    company_id: str
    role: str
    teams: list[str]


@dataclass(frozen=True, slots=True)
class Attempt:
    claim_id: str
    email_hash: str
    ip: str
    now: datetime
    user: Any  # the account row the email names, if any


def _locked_until(db: Connection, attempt: Attempt) -> datetime | None:
    """When the lockout of this email ends, if it is locked: LOCKOUT_FAILURES failures of other
    attempts within the window (claims of attempts still running count too)."""
    recent = list(
        db.execute(
            sa.select(login_failures.c.failed_at)
            .where(
                login_failures.c.email_hash == attempt.email_hash,
                login_failures.c.failed_at > attempt.now - LOCKOUT_WINDOW,
                login_failures.c.id != attempt.claim_id,
            )
            .order_by(login_failures.c.failed_at.desc())
        ).scalars()
    )
    if len(recent) < LOCKOUT_FAILURES:
        return None
    unlocked: datetime = recent[LOCKOUT_FAILURES - 1] + LOCKOUT_WINDOW
    return unlocked


def _claim(engine: Engine, email: str, ip: str, now: datetime) -> Attempt:
    """An attempt is a failure until it succeeds: its row in `login_failures` is committed
    before anything is checked, then the other attempts' rows are counted. Of attempts running
    in parallel the k-th to commit sees at least k - 1 others, so at most LOCKOUT_FAILURES of
    them go on, whatever the database's isolation (no read-then-write window). A refused claim is
    withdrawn, so a lockout ends 15 minutes after the fifth real failure."""
    attempt = Attempt(str(uuid.uuid4()), digest(email), ip, now, None)
    with engine.begin() as db:
        db.execute(
            login_failures.insert().values(
                id=attempt.claim_id, email_hash=attempt.email_hash, failed_at=now
            )
        )
    with engine.begin() as db:
        locked_until = _locked_until(db, attempt)
        if locked_until is not None:
            _withdraw(db, attempt)
            wait_s = max(1, int((locked_until - now).total_seconds()))
            raise TooManyRequests(
                "locked",
                f"too many failed sign-ins; retry in {wait_s} s",
                headers={"Retry-After": str(wait_s)},
            )
        user = db.execute(
            sa.select(users).where(users.c.email == email, users.c.disabled_at.is_(None))
        ).first()
    return replace(attempt, user=user)


def _withdraw(db: Connection, attempt: Attempt) -> None:
    """The attempt's claim taken back: it was no failure (refused, busy, or it succeeded)."""
    db.execute(login_failures.delete().where(login_failures.c.id == attempt.claim_id))


def _refuse(engine: Engine, attempt: Attempt, code: str, message: str) -> Unauthorized:
    """A 401; the attempt's claim stays as its failure, in the audit log too when the email
    names an account."""
    if attempt.user is not None:
        with engine.begin() as db:
            actor = Actor(type="user", id=attempt.user.id)
            record(
                db, attempt.user.company_id, actor, "login.failed", code, attempt.ip, attempt.now
            )
    return Unauthorized(code, message)


def matching_step(secret: str, otp: str, now: datetime) -> int | None:
    """The time step (30 s) whose code `otp` is, within one step of now either way."""
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    for offset in (0, -1, 1):
        if same_text(otp.strip(), totp.at(now, counter_offset=offset)):
            return current + offset
    return None


def use_otp(db: Connection, user_id: str, secret: str, otp: str | None, now: datetime) -> bool:
    """True when `otp` is a current code not used before; it is then used up. The use is one
    conditional UPDATE, so of parallel requests with one code exactly one gets it."""
    step = matching_step(secret, otp, now) if otp else None
    if step is None:
        return False
    claimed = db.execute(
        users.update()
        .where(
            users.c.id == user_id,
            sa.or_(users.c.totp_last_step.is_(None), users.c.totp_last_step < step),
        )
        .values(totp_last_step=step)
    )
    return claimed.rowcount == 1


def login(engine: Engine, body: LoginRequest, now: datetime, ip: str) -> AccessToken:
    """The same 401 for an unknown email and a wrong password; 429 while locked out. No
    connection is held while the password is hashed (api/auth/passwords.py bounds that work)."""
    attempt = _claim(engine, body.email.lower(), ip, now)
    user = attempt.user
    try:
        valid = verify(user.password_hash if user else None, body.password)  # same work either way
    except Unavailable:  # busy: not a failure of this email
        with engine.begin() as db:
            _withdraw(db, attempt)
        raise
    if user is None or not valid:
        raise _refuse(engine, attempt, "invalid_credentials", "wrong email or password")
    with engine.begin() as db:
        otp_ok = user.totp_enabled_at is None or use_otp(
            db, user.id, user.totp_secret, body.otp, now
        )
        if otp_ok:
            _withdraw(db, attempt)
            token = new_secret(ACCESS_TOKEN_PREFIX)
            db.execute(
                access_tokens.insert().values(
                    token_hash=digest(token),
                    user_id=user.id,
                    created_at=now,
                    expires_at=now + ACCESS_TOKEN_TTL,
                )
            )
    if not otp_ok:
        raise _refuse(
            engine,
            attempt,
            "otp_required",
            "send the current code of your authenticator as `otp`",
        )
    return AccessToken(access_token=token, expires_at=now + ACCESS_TOKEN_TTL)


def signed_in(db: Connection, token: str, now: datetime) -> SignedIn | None:
    row = db.execute(
        sa.select(users.c.id, users.c.company_id, users.c.role, users.c.teams)
        .select_from(access_tokens.join(users))
        .where(
            access_tokens.c.token_hash == digest(token),
            access_tokens.c.revoked_at.is_(None),
            access_tokens.c.expires_at > now,
            users.c.disabled_at.is_(None),
        )
    ).first()
    if row is None:
        return None
    return SignedIn(row.id, row.company_id, row.role, json.loads(row.teams))


def revoke_session(db: Connection, token_hash: str, now: datetime) -> None:
    db.execute(
        access_tokens.update()
        .where(access_tokens.c.token_hash == token_hash, access_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def start_totp(db: Connection, user_id: str) -> TotpSetup:
    """A new secret, on only after `confirm_totp` with a code of it."""
    user = db.execute(
        sa.select(users.c.email, users.c.totp_enabled_at).where(users.c.id == user_id)
    ).one()
    if user.totp_enabled_at is not None:
        raise Conflict("totp_on", "TOTP is on already: turn it off first (DELETE /v1/auth/totp)")
    secret = pyotp.random_base32()
    db.execute(
        users.update().where(users.c.id == user_id).values(totp_secret=secret, totp_last_step=None)
    )
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=TOTP_ISSUER)
    return TotpSetup(secret=secret, otpauth_uri=uri, qr_png=qr_data_uri(uri))


def set_totp(db: Connection, user_id: str, otp: str, now: datetime, on: bool) -> None:
    """Turn TOTP on (a code of the new secret) or off (a current code); 422 on `otp` otherwise."""
    user = db.execute(sa.select(users).where(users.c.id == user_id)).one()
    if user.totp_secret is None or (user.totp_enabled_at is None) == (not on):
        state = "not set up: POST /v1/auth/totp first" if on else "not on"
        raise Conflict("totp_state", f"TOTP is {state}")
    if not use_otp(db, user_id, user.totp_secret, otp, now):
        raise Invalid("invalid_request", "the code is wrong or used", [("otp", "wrong or used")])
    changes = {"totp_enabled_at": now} if on else {"totp_enabled_at": None, "totp_secret": None}
    db.execute(users.update().where(users.c.id == user_id).values(**changes))
