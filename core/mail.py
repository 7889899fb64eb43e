"""Email through SMTP (the standard library's smtplib): invitations, password resets, digests and
notifications (core/notices).

A request only queues a message (`queue_mail`, in the request's own transaction, table
`mail_outbox`); the worker's mail sender (`send_due_mail`, on a timer) hands it to the SMTP
server and deletes it, or tries again later with back-off when the server is down or answers
with an error, up to MAX_ATTEMPTS (then `failed_at` says so). So what a request answers never
depends on whether mail can go out now, and two workers never send one message twice: a sender
claims a row by moving its `due_at` past now in one conditional UPDATE before sending. In local
mode without CLOSECALL_SMTP_URL a message goes to the log instead (its link included, so a
developer can follow it). A message may carry an HTML part beside its text and headers (a
digest's List-Unsubscribe); its Message-ID is made from its row's id, so a copy a crash made the
sender hand over twice is the same message to the receiving server."""

from __future__ import annotations

import email.policy
import json
import logging
import smtplib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import sqlalchemy as sa
from jinja2 import Environment, PackageLoader, StrictUndefined
from sqlalchemy.engine import Connection, Engine

from core.controlplane import mail_outbox
from core.errors import Unavailable
from core.redaction import redact_url
from core.settings import Settings

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10  # 30 s doubling: the last try about 4 h after the first
FIRST_RETRY = timedelta(seconds=30)
LEASE = timedelta(minutes=2)  # a claimed message is due again if its sender died mid-send
# headers unfolded up to SMTP's 998 characters: Python folds a 70-character subject onto a line
# of its own, which a mail client shows with a leading space
UNFOLDED = email.policy.default.clone(max_line_length=998)


# text templates: nothing is escaped (a name shows as written); an unset variable is an error
TEMPLATES = Environment(
    loader=PackageLoader("core", "mail_templates"),
    undefined=StrictUndefined,
    autoescape=False,
    keep_trailing_newline=True,
)


def render_mail(template: str, **context: object) -> tuple[str, str]:
    """A message's subject and text from core/mail_templates/<template>.txt: its first line is
    the subject, what follows the blank line after it the body."""
    text = TEMPLATES.get_template(f"{template}.txt").render(**context)
    subject, _, body = text.partition("\n\n")
    return subject.strip(), body


def mail_configured(settings: Settings) -> bool:
    return bool(settings.smtp_url) or settings.environment == "local"


def require_mail(settings: Settings) -> None:
    """503 when this server cannot send email at all (a setting, not the SMTP server's state)."""
    if not mail_configured(settings):
        raise Unavailable("mail_unavailable", "email is not configured (CLOSECALL_SMTP_URL)")


@dataclass(frozen=True, slots=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class GaveUp:
    """A message the sender stopped trying: whom it was for, what it was, why."""

    id: str
    recipient: str
    subject: str
    company_id: str | None
    purpose: str | None
    error: str


def queue_mail(
    db: Connection,
    mail: Mail,
    now: datetime,
    company_id: str | None = None,
    purpose: str | None = None,
    mail_id: str | None = None,
) -> str:
    """Queue `mail` in the caller's transaction; its id (`mail_id`, else a new one)."""
    mail_id = mail_id or str(uuid.uuid4())
    db.execute(
        mail_outbox.insert().values(
            id=mail_id,
            recipient=mail.to,
            subject=mail.subject,
            body=mail.text,
            html=mail.html,
            headers=json.dumps(dict(mail.headers)) if mail.headers else None,
            company_id=company_id,
            purpose=purpose,
            created_at=now,
            due_at=now,
            attempts=0,
        )
    )
    return mail_id


def send_due_mail(
    engine: Engine,
    settings: Settings,
    now: datetime,
    limit: int = 20,
    gave_up: Callable[[Connection, GaveUp], None] | None = None,
) -> int:
    """Send what is due; the number sent. Failures are rescheduled, never raised; a message
    given up is passed to `gave_up` in the transaction that marks it."""
    with engine.begin() as db:
        due = db.execute(
            sa.select(mail_outbox.c.id)
            .where(mail_outbox.c.failed_at.is_(None), mail_outbox.c.due_at <= now)
            .order_by(mail_outbox.c.due_at)
            .limit(limit)
        ).all()
    sent = 0
    for row in due:
        with engine.begin() as db:
            claimed = db.execute(
                mail_outbox.update()
                .where(mail_outbox.c.id == row.id, mail_outbox.c.due_at <= now)
                .values(due_at=now + LEASE)
                .returning(
                    mail_outbox.c.recipient,
                    mail_outbox.c.subject,
                    mail_outbox.c.body,
                    mail_outbox.c.html,
                    mail_outbox.c.headers,
                    mail_outbox.c.attempts,
                    mail_outbox.c.company_id,
                    mail_outbox.c.purpose,
                )
            ).first()
        if claimed is None:  # another sender has it
            continue
        mail = Mail(
            claimed.recipient,
            claimed.subject,
            claimed.body,
            claimed.html,
            json.loads(claimed.headers) if claimed.headers else {},
        )
        error = deliver(settings, mail, row.id)
        with engine.begin() as db:
            if error is None:
                db.execute(mail_outbox.delete().where(mail_outbox.c.id == row.id))
                sent += 1
                continue
            attempts = claimed.attempts + 1
            given_up = attempts >= MAX_ATTEMPTS
            db.execute(
                mail_outbox.update()
                .where(mail_outbox.c.id == row.id)
                .values(
                    attempts=attempts,
                    last_error=error[:200],
                    due_at=now + FIRST_RETRY * 2 ** (attempts - 1),
                    failed_at=now if given_up else None,
                )
            )
            if given_up and gave_up is not None:
                found = GaveUp(
                    row.id,
                    claimed.recipient,
                    claimed.subject,
                    claimed.company_id,
                    claimed.purpose,
                    error,
                )
                gave_up(db, found)
    return sent


def message_of(settings: Settings, mail: Mail, mail_id: str) -> EmailMessage:
    """The MIME message: text, and HTML as its alternative when there is one."""
    message = EmailMessage(policy=UNFOLDED)
    message["From"], message["To"], message["Subject"] = settings.mail_from, mail.to, mail.subject
    domain = urlsplit(settings.public_url).hostname or "localhost"
    message["Message-ID"] = f"<{mail_id}@{domain}>"  # the same on every attempt
    for name, value in mail.headers.items():
        message[name] = value
    message.set_content(mail.text)
    if mail.html is not None:
        message.add_alternative(mail.html, subtype="html")
    return message


def deliver(settings: Settings, mail: Mail, mail_id: str) -> str | None:
    """Hand one message to the SMTP server: None when it took it, else why not."""
    message = message_of(settings, mail, mail_id)
    if not settings.smtp_url:
        if settings.environment == "local":
            log.warning("no CLOSECALL_SMTP_URL: the email to %s would say:\n%s", mail.to, mail.text)
            return None
        return "email is not configured (CLOSECALL_SMTP_URL)"
    parts = urlsplit(settings.smtp_url)
    secure = parts.scheme == "smtps"
    client = smtplib.SMTP_SSL if secure else smtplib.SMTP
    try:
        with client(
            parts.hostname or "127.0.0.1", parts.port or (465 if secure else 25), timeout=10
        ) as smtp:
            if parts.username:
                smtp.login(unquote(parts.username), unquote(parts.password or ""))
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("email to the SMTP server %s failed: %r", redact_url(settings.smtp_url), exc)
        return f"{type(exc).__name__}: {exc}"
    return None
