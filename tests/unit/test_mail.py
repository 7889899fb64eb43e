"""Email without SMTP: the message goes to the log in local mode, elsewhere it is a 503."""

from __future__ import annotations

import pytest

from core.errors import ApiError
from core.mail import send_mail
from core.settings import Settings


def test_local_mode_logs_the_message(caplog: pytest.LogCaptureFixture) -> None:
    send_mail(Settings(environment="local", smtp_url=""), "a@x.example", "Hi", "token=abc\n")
    assert "a@x.example" in caplog.text and "token=abc" in caplog.text


def test_elsewhere_no_smtp_is_a_503() -> None:
    with pytest.raises(ApiError) as refused:
        send_mail(Settings(environment="test", smtp_url=""), "a@x.example", "Hi", "body")
    assert refused.value.status == 503 and "CLOSECALL_SMTP_URL" in refused.value.message
