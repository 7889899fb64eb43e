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
from core.controlplane import (
    access_tokens,
    companies,
    digest_log,
    notifications,
    policy_acceptances,
    user_tokens,
    users,
)
from core.errors import Conflict, Invalid, NotFound
from core.mail import Mail, queue_mail, render_mail, require_mail
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


class LinkQuery(BaseModel):
    token: str = Field(max_length=128)


LinkStatus = Literal["valid", "used", "expired"]


class LinkState(BaseModel):
    """An emailed link as its page shows it before a password is typed."""

    purpose: Literal["invite", "reset"]
    state: LinkStatus
    email: str
    expires_at: datetime


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


# the console page an emailed link opens, by the token's purpose
LINK_PAGES = {"invite": "accept-invite", "reset": "reset-password"}


def new_link(
    db: Connection, settings: Settings, user_id: str, purpose: str, now: datetime
) -> tuple[str, int]:
    """A single-use token for the user, and the console link carrying it in its fragment (which
    a browser never sends: no server or proxy log holds it); how many hours it works."""
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
    link = f"{settings.public_url.rstrip('/')}/console/{LINK_PAGES[purpose]}#token={token}"
    return link, int(ttl.total_seconds() // 3600)


def mail_invitation(
    db: Connection, settings: Settings, company_id: str, user: UserView, now: datetime
) -> None:
    link, hours = new_link(db, settings, user.id, "invite", now)
    company = db.execute(sa.select(companies.c.name).where(companies.c.id == company_id))
    scope = f"the team{'s' if len(user.teams) > 1 else ''} {', '.join(user.teams)}"
    subject, body = render_mail(
        "invitation",
        company=company.scalar_one(),
        role=user.role,
        scope=scope if user.teams else "every team",
        link=link,
        hours=hours,
    )
    queue_mail(db, Mail(user.email, subject, body), now, purpose="invitation")


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
    user = find_user(db, company_id, user_id)
    mail_invitation(db, settings, company_id, user, now)
    return user


def reinvite(
    db: Connection, settings: Settings, company_id: str, user_id: str, now: datetime
) -> UserView:
    """A new invitation link for a user who has not accepted yet; the earlier links stop working."""
    require_mail(settings)
    user = find_user(db, company_id, user_id)
    if user.status != "invited":
        raise Conflict("not_invited", f"{user.email} has accepted the invitation already")
    use_up(db, user_id, "invite", now)
    mail_invitation(db, settings, company_id, user, now)
    return user


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
    # their notifications, digests' sent-log and acceptances (the audit log keeps those)
    db.execute(notifications.delete().where(notifications.c.user_id == user_id))
    db.execute(digest_log.delete().where(digest_log.c.recipient_id == user_id))
    db.execute(policy_acceptances.delete().where(policy_acceptances.c.user_id == user_id))
    db.execute(users.delete().where(users.c.id == user_id))


def use_up(db: Connection, user_id: str, purpose: str, now: datetime) -> None:
    """Every unused token of the user for this purpose stops working."""
    db.execute(
        user_tokens.update()
        .where(
            user_tokens.c.user_id == user_id,
            user_tokens.c.purpose == purpose,
            user_tokens.c.used_at.is_(None),
        )
        .values(used_at=now)
    )


def link_state(db: Connection, token: str, purpose: str | None, now: datetime) -> LinkState:
    """What an emailed link's token is now (422 on `token` when no link has it)."""
    row = db.execute(
        sa.select(user_tokens, users.c.email)
        .join(users, users.c.id == user_tokens.c.user_id)
        .where(user_tokens.c.token_hash == digest(token))
    ).first()
    if row is None or (purpose is not None and row.purpose != purpose):
        raise Invalid(
            "link_unknown",
            "this link is not one we sent: copy the whole link from the mail",
            [("token", "unknown")],
        )
    state: LinkStatus = (
        "used" if row.used_at is not None else "expired" if row.expires_at <= now else "valid"
    )
    return LinkState(purpose=row.purpose, state=state, email=row.email, expires_at=row.expires_at)


REFUSED_LINKS = {
    "used": ("link_used", "this link was used already (or a newer one was sent)"),
    "expired": ("link_expired", "this link has expired"),
}


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
        found = link_state(db, token, purpose, now)
        code, message = REFUSED_LINKS.get(found.state, REFUSED_LINKS["used"])
        ask = "ask for a new one" if purpose == "reset" else "ask an owner to resend it"
        raise Invalid(code, f"{message}: {ask}", [("token", found.state)])
    user_id: str = db.execute(
        sa.select(user_tokens.c.user_id).where(user_tokens.c.token_hash == digest(token))
    ).scalar_one()
    db.execute(users.update().where(users.c.id == user_id).values(password_hash=password_hash))
    use_up(db, user_id, purpose, now)
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
        link, hours = new_link(db, settings, user.id, "reset", now)
        subject, body = render_mail("password_reset", email=user.email, link=link, hours=hours)
        queue_mail(db, Mail(user.email, subject, body), now, purpose="password_reset")


def confirm_reset(db: Connection, token: str, password_hash: str, now: datetime) -> None:
    """The new password, and every access token of the user revoked."""
    revoke_sessions(db, use_token(db, token, "reset", password_hash, now), now)
