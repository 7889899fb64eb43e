"""Notices without a server: each lifecycle milestone told once per user at its time (the
latest passed only), a digest due only in its window of the recipient's local morning, weekly
on Mondays, a viewer's off unless chosen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from core.controlplane import (
    Company,
    companies,
    digest_log,
    employees,
    mail_outbox,
    notifications,
)
from core.notices import digests, lifecycle
from core.tokens import digest
from tests.support.controlplane import add_company, add_users, migrated_sqlite

NOW = datetime(2026, 12, 7, 2, 30, tzinfo=UTC)  # a Monday, 08:00 in Asia/Kolkata
CONSOLE = "https://calls.example"
ROLES = ("owner", "admin", "manager", "viewer")


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    engine = migrated_sqlite(tmp_path)
    with engine.begin() as db:
        add_company(db, "c1", NOW - timedelta(days=400))
        add_users(db, "c1", NOW - timedelta(days=400), ROLES, "acme.example")
    return engine


def told(engine: sa.Engine) -> list[tuple[str, str]]:
    with engine.connect() as db:
        rows = db.execute(sa.select(notifications.c.user_id, notifications.c.kind))
        return sorted((r.user_id, r.kind) for r in rows)


def mails(engine: sa.Engine) -> list[str]:
    with engine.connect() as db:
        return sorted(db.execute(sa.select(mail_outbox.c.recipient)).scalars())


def test_each_milestone_once_for_the_owner_and_admins(engine: sa.Engine) -> None:
    end = NOW + timedelta(days=10)
    with engine.begin() as db:
        db.execute(companies.update().values(status="cancelled", period_end=end, ended_at=end))

    def round_at(at: datetime) -> int:
        with engine.begin() as db:
            return lifecycle.announce(db, at, 5, CONSOLE)

    assert round_at(end - timedelta(days=7, seconds=1)) == 0
    assert round_at(end - timedelta(days=7)) == 2  # owner and admin, not manager or viewer
    assert round_at(end - timedelta(days=3)) == 0  # the same milestone: nothing again
    assert round_at(end - timedelta(days=1)) == 2
    assert round_at(end) == 2
    assert round_at(end + timedelta(days=3)) == 2  # 2 days before the purge (5 days after)
    assert round_at(end + timedelta(days=4)) == 0
    kinds = [k for u, k in told(engine) if u == "owner"]
    assert sorted(kinds) == sorted(
        ["subscription.deactivating"] * 2 + ["subscription.deactivated", "company.purging"]
    )
    assert mails(engine) == ["admin@acme.example"] * 4 + ["owner@acme.example"] * 4
    with engine.connect() as db:
        body = db.execute(sa.select(mail_outbox.c.body)).scalars().first()
    assert body is not None and "(Asia/Kolkata)" in body  # a time a person reads names its zone


def test_a_late_worker_tells_only_the_latest_milestone(engine: sa.Engine) -> None:
    end = NOW
    with engine.begin() as db:
        db.execute(companies.update().values(status="cancelled", period_end=end, ended_at=end))
        assert lifecycle.announce(db, end + timedelta(hours=1), 5, CONSOLE) == 2
    assert {k for _, k in told(engine)} == {"subscription.deactivated"}


def due_users(engine: sa.Engine, at: datetime) -> list[str]:
    with engine.connect() as db:
        return sorted(d.recipient_id for d in digests.due(db, at))


def test_digests_are_due_in_the_morning_window_of_the_company_zone(engine: sa.Engine) -> None:
    assert due_users(engine, NOW - timedelta(minutes=1)) == []
    assert due_users(engine, NOW) == ["admin", "manager", "owner"]  # a viewer's is off
    assert due_users(engine, NOW + digests.CATCH_UP) == []  # too late for today's
    with engine.begin() as db:
        digests.store(db, "viewer", digests.DigestSettings("daily", "09:30"))
        digests.store(db, "manager", digests.DigestSettings("weekly", "08:00"))
        digests.store(db, "admin", digests.DigestSettings("off", "08:00"))
    assert due_users(engine, NOW + timedelta(hours=1, minutes=30)) == [
        "manager",
        "owner",
        "viewer",
    ]
    tuesday = NOW + timedelta(days=1)
    assert due_users(engine, tuesday) == ["owner"]  # weekly goes on Mondays only


def test_a_local_time_is_hh_mm() -> None:
    assert digests.parse_local_time("07:05").hour == 7
    for bad in ("7:05", "24:00", "07:60", "ab:cd", "0705"):
        with pytest.raises(ValueError):
            digests.parse_local_time(bad)


def test_a_rep_gets_their_own_when_the_company_turns_it_on(engine: sa.Engine) -> None:
    with engine.begin() as db:
        for index, email in enumerate(("asha@acme.example", None)):
            db.execute(
                employees.insert().values(
                    id=f"rep-{index}",
                    company_id="c1",
                    name=f"Rep {index}",
                    email=email,
                    tracking_enabled=True,
                    created_at=NOW - timedelta(days=30),
                )
            )
    assert "rep-0" not in due_users(engine, NOW)  # off by default
    with engine.begin() as db:
        db.execute(companies.update().values(rep_digests=True))
    assert "rep-0" in due_users(engine, NOW) and "rep-1" not in due_users(engine, NOW)
    with engine.begin() as db:
        db.execute(
            digest_log.insert().values(
                recipient_id="rep-0",
                local_day="2026-12-06",
                company_id="c1",
                kind="daily",
                claimed_at=NOW - timedelta(days=1),
                mail_id="m",
                unsubscribe_hash=digest("tok"),
            )
        )
        assert digests.unsubscribe(db, "tok", NOW) and not digests.unsubscribe(db, "other", NOW)
    assert "rep-0" not in due_users(engine, NOW)


def test_a_weekly_digest_covers_the_week_before_and_names_escape() -> None:
    company = Company(
        id="c1",
        name="<b>Acme</b>",
        country="IN",
        timezone="Asia/Kolkata",
        plan="basic",
        wrapped_data_key="k",
        stale_after_s=21600,
    )
    monday = NOW.date()
    weekly = digests.Due("u1", "m@acme.example", "manager", ["North"], company, monday, "weekly")
    assert weekly.covered() == (monday - timedelta(days=7), monday - timedelta(days=1))
    client = {
        "number": "+91******0007",
        "name": "<script>x</script>",
        "missed_count": 2,
        "last_missed_at": "2026-12-06T10:59:00+05:30",
        "employees": "Asha",
    }
    found = {
        "summary": {
            name: 0
            for name in (
                "total_calls",
                "connected",
                "missed",
                "unique_clients",
                "never_attended",
                "not_picked_up",
                "talk_time_s",
                "working_s",
                "incoming",
                "outgoing",
                "rejected",
            )
        },
        "never_attended": [client],
        "not_picked_up": [],
        "people": [],
        "more_people": 0,
        "idle": 3,
        "quiet": [],
        "overdue": [],
        "overdue_total": 0,
    }
    subject, text, html = digests.render(weekly, found, CONSOLE, f"{CONSOLE}/u?token=t")
    assert subject == "Weekly calls of <b>Acme</b>: 30 Nov - 06 Dec 2026"
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;Acme" in html
    assert "<script>x</script>" in text  # the text part shows names as written
    assert "3 employees made no call" in text and "your teams North" in text
