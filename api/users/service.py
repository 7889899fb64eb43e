"""Users of a company beyond its owner: invitations and password resets by email (single-use
tokens kept as digests, 72 h / 1 h), roles and teams, the last owner kept. The logic behind
api/users/routes.py."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, EmailStr, Field, StrictBool
from sqlalchemy.engine import Connection

from api.auth.passwords import NewPassword
from core.controlplane import access_tokens, user_tokens, users
from core.errors import Conflict, Invalid, NotFound
from core.mail import queue_mail, require_mail
from core.settings import Settings
from core.tokens import digest, new_secret

UserRole = Literal["owner", "admin", "manager", "viewer"]
UserStatus = Literal["invited", "active", "disabled"]
INVITE_TTL = timedelta(hours=72)
RESET_TTL = timedelta(hours=1)
TOKEN_PREFIX = {"invite": "cc_inv", "reset": "cc_rst"}
Teams = list[str]


class UserCreate(BaseModel):
    email: EmailStr
    role: UserRole
    teams: Teams = Field(default_factory=list, description="only these teams; empty: all")


class UserUpdate(BaseModel):
    role: UserRole | None = None
    teams: Teams | None = None
    disabled: StrictBool | None = None


class UserView(BaseModel):
    id: str
    email: str
    role: UserRole
    teams: Teams
    status: UserStatus
    created_at: datetime


class UserList(BaseModel):
    items: list[UserView]


class AcceptInvite(BaseModel):
    token: str = Field(max_length=128)
    password: NewPassword


class ResetRequest(BaseModel):
    email: EmailStr


class ResetConfirm(AcceptInvite):
    pass


def view(row: sa.Row[tuple[object, ...]]) -> UserView:
    mapping = row._mapping
    status: UserStatus = (
        "disabled"
        if mapping["disabled_at"] is not None
        else ("invited" if not mapping["password_hash"] else "active")
    )
    return UserView(
        id=mapping["id"],
        email=mapping["email"],
        role=mapping["role"],
        teams=json.loads(mapping["teams"]),
        status=status,
        created_at=mapping["created_at"],
    )


def find_user(db: Connection, company_id: str, user_id: str) -> UserView:
    row = db.execute(
        sa.select(users).where(users.c.id == user_id, users.c.company_id == company_id)
    ).first()
    if row is None:
        raise NotFound("not_found", f"no user {user_id}")
    return view(row)


# the page an emailed link opens, and the route that takes its token
ROUTES = {
    "invite": ("accept-invite", "/v1/auth/accept-invite"),
    "reset": ("reset-password", "/v1/auth/password-reset/confirm"),
}


def mail_token(
    db: Connection, settings: Settings, user_id: str, email: str, purpose: str, now: datetime
) -> None:
    token = new_secret(TOKEN_PREFIX[purpose])
    ttl = INVITE_TTL if purpose == "invite" else RESET_TTL
    db.execute(
        user_tokens.insert().values(
            token_hash=digest(token),
            user_id=user_id,
            purpose=purpose,
            created_at=now,
            expires_at=now + ttl,
        )
    )
    page, route = ROUTES[purpose]
    subject = "Your closecall invitation" if purpose == "invite" else "Reset your password"
    hours = int(ttl.total_seconds() // 3600)
    queue_mail(
        db,
        email,
        subject,
        f"Open {settings.public_url}/{page}?token={token} within {hours} h\n"
        f"(or send this token with your new password to POST {route}: {token}).\n",
        now,
    )


def invite(
    db: Connection, settings: Settings, company_id: str, body: UserCreate, now: datetime
) -> UserView:
    require_mail(settings)
    email = body.email.lower()
    if db.execute(sa.select(users.c.id).where(users.c.email == email)).first():
        raise Conflict("email_taken", "an account with this email exists", [("email", "taken")])
    user_id = str(uuid.uuid4())
    db.execute(
        users.insert().values(
            id=user_id,
            company_id=company_id,
            email=email,
            password_hash="",  # none until the invitation is accepted
            role=body.role,
            teams=json.dumps(sorted(set(body.teams))),
            created_at=now,
        )
    )
    mail_token(db, settings, user_id, email, "invite", now)
    return find_user(db, company_id, user_id)


def list_users(db: Connection, company_id: str) -> list[UserView]:
    rows = db.execute(
        sa.select(users).where(users.c.company_id == company_id).order_by(users.c.created_at)
    )
    return [view(row) for row in rows]


def _keep_an_owner(db: Connection, company_id: str, user_id: str) -> None:
    """409 when `user_id` is the company's last active owner."""
    owners = set(
        db.execute(
            sa.select(users.c.id).where(
                users.c.company_id == company_id,
                users.c.role == "owner",
                users.c.disabled_at.is_(None),
            )
        ).scalars()
    )
    if owners == {user_id}:
        raise Conflict("last_owner", "the company's last owner cannot be removed or demoted")


def revoke_sessions(db: Connection, user_id: str, now: datetime) -> None:
    db.execute(
        access_tokens.update()
        .where(access_tokens.c.user_id == user_id, access_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def update_user(
    db: Connection, company_id: str, user_id: str, body: UserUpdate, now: datetime
) -> UserView:
    user = find_user(db, company_id, user_id)
    changes: dict[str, object] = {}
    if body.role is not None:
        changes["role"] = body.role
    if body.teams is not None:
        changes["teams"] = json.dumps(sorted(set(body.teams)))
    if body.disabled is not None:
        changes["disabled_at"] = now if body.disabled else None
    if user.role == "owner" and (body.role not in (None, "owner") or body.disabled):
        _keep_an_owner(db, company_id, user_id)
    if changes:
        db.execute(users.update().where(users.c.id == user_id).values(**changes))
    if body.disabled:
        revoke_sessions(db, user_id, now)
    return find_user(db, company_id, user_id)


def delete_user(db: Connection, company_id: str, user_id: str) -> None:
    user = find_user(db, company_id, user_id)
    if user.role == "owner":
        _keep_an_owner(db, company_id, user_id)
    db.execute(access_tokens.delete().where(access_tokens.c.user_id == user_id))
    db.execute(user_tokens.delete().where(user_tokens.c.user_id == user_id))
    db.execute(users.delete().where(users.c.id == user_id))


def use_token(db: Connection, token: str, purpose: str, password_hash: str, now: datetime) -> str:
    """Set the password (its hash) of the token's user and use the token up, and the user's
    other tokens of that purpose with it; the user's id."""
    claimed = db.execute(
        user_tokens.update()
        .where(
            user_tokens.c.token_hash == digest(token),
            user_tokens.c.purpose == purpose,
            user_tokens.c.used_at.is_(None),
            user_tokens.c.expires_at > now,
        )
        .values(used_at=now)
    )
    if claimed.rowcount != 1:
        raise Invalid(
            "invalid_request", "the token is unknown, used or expired", [("token", "invalid")]
        )
    user_id: str = db.execute(
        sa.select(user_tokens.c.user_id).where(user_tokens.c.token_hash == digest(token))
    ).scalar_one()
    db.execute(users.update().where(users.c.id == user_id).values(password_hash=password_hash))
    db.execute(
        user_tokens.update()
        .where(
            user_tokens.c.user_id == user_id,
            user_tokens.c.purpose == purpose,
            user_tokens.c.used_at.is_(None),
        )
        .values(used_at=now)
    )
    return user_id


def request_reset(db: Connection, settings: Settings, email: str, now: datetime) -> None:
    """A reset email to an active user; nothing (and the same answer) for anyone else."""
    user = db.execute(
        sa.select(users.c.id, users.c.email).where(
            users.c.email == email.lower(),
            users.c.disabled_at.is_(None),
            users.c.password_hash != "",
        )
    ).first()
    if user is not None:
        mail_token(db, settings, user.id, user.email, "reset", now)


def confirm_reset(db: Connection, token: str, password_hash: str, now: datetime) -> None:
    """The new password, and every access token of the user revoked."""
    revoke_sessions(db, use_token(db, token, "reset", password_hash, now), now)
