"""Notifications: a row per user told (the console's list, with its unread state) and the same
notice mailed, both once per user and notice key whatever restarts or a second worker do (the
key's unique index decides who inserts; only the inserter queues the mail)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.controlplane import companies, insert_new, notifications, users
from core.mail import GaveUp, Mail, queue_mail, render_mail

# who is told of what concerns the whole company (its subscription, exports, erasures)
ADMINS = ("owner", "admin")


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str  # API.md "Digests and notifications": subscription.deactivating, ...
    key: str  # once per user and key
    title: str
    body: str
    link: str | None = None  # a console page, absolute


def recipients(
    conn: Connection, company_id: str, roles: Sequence[str] = ADMINS
) -> list[sa.Row[Any]]:
    """The company's enabled users of `roles`, by email."""
    return list(
        conn.execute(
            sa.select(users.c.id, users.c.email)
            .where(
                users.c.company_id == company_id,
                users.c.role.in_(roles),
                users.c.disabled_at.is_(None),
            )
            .order_by(users.c.email)
        )
    )


def notify(
    conn: Connection,
    company_id: str,
    notice: Notice,
    now: datetime,
    roles: Sequence[str] = ADMINS,
    to: Sequence[sa.Row[Any]] | None = None,
    mail: bool = True,
) -> int:
    """Tell the company's users of `roles` (or `to`) once each: a notification, and a mail
    unless `mail` is false. The number told now (0 when each had it already)."""
    told = recipients(conn, company_id, roles) if to is None else to
    if not told:
        return 0
    rows = [
        {
            "id": str(uuid.uuid4()),
            "company_id": company_id,
            "user_id": user.id,
            "notice_key": notice.key,
            "at": now,
            "kind": notice.kind,
            "title": notice.title,
            "body": notice.body,
            "link": notice.link,
        }
        for user in told
    ]
    fresh = {key[0] for key in insert_new(conn, notifications, rows)}
    if not mail:
        return len(fresh)
    name = conn.execute(sa.select(companies.c.name).where(companies.c.id == company_id))
    subject, text = render_mail(
        "notice", title=notice.title, body=notice.body, link=notice.link, company=name.scalar()
    )
    for user, row in zip(told, rows, strict=True):
        if row["id"] in fresh:
            queue_mail(conn, Mail(user.email, subject, text), now, company_id, notice.kind)
    return len(fresh)


def mail_to_addresses(
    conn: Connection, emails: Sequence[str], notice: Notice, company: str, now: datetime
) -> None:
    """Mail `notice` to addresses that will outlive the company's rows (the purge's last word):
    no notification, and the mail belongs to no company, so the purge does not delete it."""
    subject, text = render_mail(
        "notice", title=notice.title, body=notice.body, link=None, company=company
    )
    for email in emails:
        queue_mail(conn, Mail(email, subject, text), now, None, notice.kind)


def mail_failed(conn: Connection, failed: GaveUp, now: datetime) -> None:
    """A company's mail the sender gave up on (core/mail.py) is shown to its admins."""
    if failed.company_id is None or failed.purpose == "mail.failed":
        return
    exists = conn.execute(sa.select(companies.c.id).where(companies.c.id == failed.company_id))
    if exists.first() is None:
        return
    notice = Notice(
        "mail.failed",
        f"mail.failed:{failed.id}",
        f"A mail to {failed.recipient} could not be delivered",
        f'The mail "{failed.subject}" ({failed.purpose or "mail"}) to {failed.recipient} was '
        f"refused or could not reach the mail server after every retry: {failed.error}. "
        "Check the address on Users and API keys, or the server's CLOSECALL_SMTP_URL.",
    )
    rows = recipients(conn, failed.company_id)
    told = [row for row in rows if row.email != failed.recipient] or rows
    notify(conn, failed.company_id, notice, now, to=told, mail=False)


def listed(
    conn: Connection, user_id: str, limit: int, before: tuple[datetime, str] | None
) -> list[sa.Row[Any]]:
    """A user's notifications, newest first, `limit` of them after the cursor `before`."""
    query = sa.select(notifications).where(notifications.c.user_id == user_id)
    if before is not None:
        at, notice_id = before
        query = query.where(
            sa.or_(
                notifications.c.at < at,
                sa.and_(notifications.c.at == at, notifications.c.id < notice_id),
            )
        )
    order = (notifications.c.at.desc(), notifications.c.id.desc())
    return list(conn.execute(query.order_by(*order).limit(limit)))


def unread(conn: Connection, user_id: str) -> int:
    return int(
        conn.execute(
            sa.select(sa.func.count()).where(
                notifications.c.user_id == user_id, notifications.c.read_at.is_(None)
            )
        ).scalar_one()
    )


def mark_read(conn: Connection, user_id: str, notice_id: str, now: datetime) -> bool:
    """Whether the user has that notification (read now, or before)."""
    found = conn.execute(
        sa.select(notifications.c.read_at).where(
            notifications.c.id == notice_id, notifications.c.user_id == user_id
        )
    ).first()
    if found is None:
        return False
    if found.read_at is None:
        conn.execute(
            notifications.update().where(notifications.c.id == notice_id).values(read_at=now)
        )
    return True
