"""Email through SMTP (the standard library's smtplib): invitations and password resets. In
local mode without CLOSECALL_SMTP_URL a message goes to the log instead (its link included,
so a developer can follow it); elsewhere that is an error the caller answers with 503."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

from core.errors import ApiError
from core.redaction import redact_url
from core.settings import Settings

log = logging.getLogger(__name__)


def send_mail(settings: Settings, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = settings.mail_from, to, subject
    message.set_content(body)
    if not settings.smtp_url:
        if settings.environment == "local":
            log.warning("no CLOSECALL_SMTP_URL: the email to %s would say:\n%s", to, body)
            return
        raise ApiError(503, "mail_unavailable", "email is not configured (CLOSECALL_SMTP_URL)")
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
        raise ApiError(503, "mail_unavailable", "the email could not be sent; retry later") from exc
