"""The mail queue: a request queues, the sender delivers each message once (two senders at once
included), retries with back-off while the SMTP server is down, and gives up visibly; without
SMTP the message goes to the log in local mode, elsewhere `require_mail` is a 503."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.controlplane import mail_outbox, make_engine, migrate
from core.errors import DomainError
from core.mail import (
    FIRST_RETRY,
    MAX_ATTEMPTS,
    GaveUp,
    Mail,
    queue_mail,
    require_mail,
    send_due_mail,
)
from core.settings import Settings
from deploy.local_stack import free_port
from tests.support.smtp import smtp_server

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'control.db'}")
    migrate(engine)
    return engine


def queue(engine: sa.Engine, to: str = "a@x.example") -> None:
    with engine.begin() as db:
        queue_mail(db, Mail(to, "Hi", "token=abc\n"), NOW)


def outbox(engine: sa.Engine) -> list[sa.Row[tuple[object, ...]]]:
    with engine.connect() as db:
        return list(db.execute(sa.select(mail_outbox)))


def test_sent_once_by_two_senders_then_gone(engine: sa.Engine) -> None:
    for i in range(10):
        queue(engine, f"p{i}@x.example")
    with smtp_server() as (url, inbox):
        settings = Settings(environment="test", smtp_url=url)
        with ThreadPoolExecutor(2) as pool:
            sent = list(pool.map(lambda _: send_due_mail(engine, settings, NOW), range(2)))
        assert sum(sent) == 10
        assert sorted(m["To"] for m in inbox.messages) == [f"p{i}@x.example" for i in range(10)]
        assert "token=abc" in str(inbox.messages[0])
    assert outbox(engine) == []  # nothing of a sent message stays


def test_retried_with_back_off_then_given_up(engine: sa.Engine) -> None:
    queue(engine)
    settings = Settings(environment="test", smtp_url=f"smtp://127.0.0.1:{free_port()}")
    at = NOW
    for attempt in range(1, MAX_ATTEMPTS + 1):
        assert send_due_mail(engine, settings, at) == 0
        (row,) = outbox(engine)
        assert row.attempts == attempt and "ConnectionRefused" in row.last_error
        if attempt < MAX_ATTEMPTS:
            assert row.due_at == at + FIRST_RETRY * 2 ** (attempt - 1) and row.failed_at is None
            assert send_due_mail(engine, settings, row.due_at - timedelta(seconds=1)) == 0
            at = row.due_at
    assert row.failed_at == at
    assert send_due_mail(engine, settings, at + timedelta(days=30)) == 0  # never again


def test_local_mode_logs_the_message(engine: sa.Engine, caplog: pytest.LogCaptureFixture) -> None:
    queue(engine)
    assert send_due_mail(engine, Settings(environment="local", smtp_url=""), NOW) == 1
    assert "a@x.example" in caplog.text and "token=abc" in caplog.text


def test_elsewhere_no_smtp_is_a_503() -> None:
    require_mail(Settings(environment="local", smtp_url=""))
    with pytest.raises(DomainError) as refused:
        require_mail(Settings(environment="test", smtp_url=""))
    assert refused.value.status == 503 and "CLOSECALL_SMTP_URL" in refused.value.message


def test_html_headers_and_a_stable_message_id(engine: sa.Engine) -> None:
    headers = {"List-Unsubscribe": "<https://x.example/u?token=t>"}
    with engine.begin() as db:
        queue_mail(db, Mail("a@x.example", "Digest", "text\n", "<p>html</p>", headers), NOW)
    with smtp_server() as (url, inbox):
        assert send_due_mail(engine, Settings(environment="test", smtp_url=url), NOW) == 1
        (message,) = inbox.messages
    assert isinstance(message, EmailMessage)
    assert message["List-Unsubscribe"] == headers["List-Unsubscribe"]
    assert message.get_content_type() == "multipart/alternative"
    html = message.get_body(("html",))
    assert isinstance(html, EmailMessage) and "<p>html</p>" in html.get_content()
    assert str(message["Message-ID"]).endswith("@127.0.0.1>")  # the row's id at the public host


def test_a_given_up_message_is_handed_over_once(engine: sa.Engine) -> None:
    with engine.begin() as db:
        queue_mail(db, Mail("a@x.example", "Hi", "x\n"), NOW, "company-1", "digest")
    settings = Settings(environment="test", smtp_url=f"smtp://127.0.0.1:{free_port()}")
    given_up: list[GaveUp] = []
    at = NOW
    for _ in range(MAX_ATTEMPTS):
        send_due_mail(engine, settings, at, gave_up=lambda _db, failed: given_up.append(failed))
        at += timedelta(days=1)
    send_due_mail(engine, settings, at, gave_up=lambda _db, failed: given_up.append(failed))
    (failed,) = given_up
    assert (failed.recipient, failed.company_id, failed.purpose) == (
        "a@x.example",
        "company-1",
        "digest",
    )
    assert "ConnectionRefused" in failed.error
