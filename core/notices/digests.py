"""The morning digest (API.md "Digests and notifications"): each owner, admin and manager gets,
at the local time they chose (08:00 in the company's zone unless set), yesterday for the
employees they may see; on Mondays a weekly digest covers the week before instead, for those
who chose weekly. Its figures are the reports' own functions (core/reports), so they equal
`GET /v1/reports/summary` and the client lists for the same range and scope.

Exactly once per recipient and local day: the worker claims the day in `digest_log` (its
primary key) in the transaction that queues the mail, so a second worker, a restart or a
retried round find the day taken. The mail sender (core/mail.py) then delivers it with its
retries; a permanent failure becomes an admin's notification (core/notices/notifications.py).
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy.engine import Connection, Engine

from core.accounts.subscription import status_at
from core.calls.items import people_of
from core.clickhouse import ClickHouse
from core.controlplane import (
    Company,
    devices,
    digest_log,
    employees,
    insert_new,
    load_company,
    users,
)
from core.controlplane import (
    companies as companies_table,
)
from core.devices.views import device_rows, device_views
from core.leads import followups
from core.mail import Mail, queue_mail
from core.paging import Page
from core.reports import queries as q
from core.reports.filters import CallFilter
from core.reports.range import ReportRange, parse_range
from core.reports.scope import company_view, team_employees
from core.tokens import digest, new_secret

log = logging.getLogger(__name__)

Frequency = Literal["off", "daily", "weekly"]
FREQUENCIES: tuple[Frequency, ...] = ("off", "daily", "weekly")
DEFAULT_TIME = "08:00"
DIGEST_ROLES = ("owner", "admin", "manager")  # daily by default; a viewer's is off
TOP = 10  # clients listed per list
PEOPLE = 25  # employees listed by working time; the rest counted (the employees report has all)
WEEKLY_ON = 0  # Monday
CATCH_UP = timedelta(hours=6)  # how late a digest still goes
KEPT = timedelta(days=90)  # the sent-log, and so a digest's unsubscribe link

TEMPLATES = Environment(
    loader=PackageLoader("core", "mail_templates"),
    undefined=StrictUndefined,
    autoescape=select_autoescape(["html"]),
    keep_trailing_newline=True,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True, slots=True)
class DigestSettings:
    frequency: Frequency
    local_time: str  # HH:MM in the company's zone


def settings_of(role: str, frequency: str | None, local_time: str | None) -> DigestSettings:
    chosen = frequency or ("daily" if role in DIGEST_ROLES else "off")
    return DigestSettings(chosen if chosen in FREQUENCIES else "off", local_time or DEFAULT_TIME)


def parse_local_time(value: str) -> time:
    """`HH:MM`, 00:00 to 23:59 (ValueError otherwise)."""
    hours, _, minutes = value.partition(":")
    if len(hours) != 2 or len(minutes) != 2 or not (hours + minutes).isdigit():
        raise ValueError("a local time is HH:MM, such as 08:00")
    return time(int(hours), int(minutes))


@dataclass(frozen=True, slots=True)
class Due:
    recipient_id: str  # a user's id, or a rep's (an employee's)
    email: str
    role: str  # a user's role, or "rep"
    teams: list[str]
    company: Company
    local_day: date
    kind: Literal["daily", "weekly"]

    @property
    def rep(self) -> bool:
        return self.role == "rep"

    def covered(self) -> tuple[date, date]:
        """The local days the digest covers, both inclusive: yesterday, or the week before."""
        last = self.local_day - timedelta(days=1)
        return (last - timedelta(days=6) if self.kind == "weekly" else last), last


def due(conn: Connection, now: datetime) -> list[Due]:
    """Everyone whose digest is due now and not claimed for their local day: the time they chose
    passed today in the company's zone less than CATCH_UP ago (a worker down all morning sends
    it late, not in the evening; a user added in the afternoon gets theirs the next morning),
    their company is not deactivated, and for a weekly digest it is Monday. Users, then the
    reps of companies that turned rep digests on (daily at DEFAULT_TIME, their own calls)."""
    people = conn.execute(
        sa.select(
            users.c.id,
            users.c.email,
            users.c.role,
            users.c.teams,
            users.c.digest_frequency,
            users.c.digest_time,
            users.c.company_id,
        )
        .where(users.c.disabled_at.is_(None))
        .order_by(users.c.company_id, users.c.id)
    ).all()
    reps = conn.execute(
        sa.select(employees.c.id, employees.c.email, employees.c.company_id)
        .select_from(employees.join(companies_table))
        .where(
            companies_table.c.rep_digests.is_(True),
            employees.c.email.is_not(None),
            employees.c.email != "",
            employees.c.archived_at.is_(None),
            employees.c.tracking_enabled.is_(True),
            employees.c.digest_off_at.is_(None),
        )
        .order_by(employees.c.company_id, employees.c.id)
    ).all()
    claimed = set(
        conn.execute(
            sa.select(digest_log.c.recipient_id, digest_log.c.local_day).where(
                digest_log.c.claimed_at >= now - timedelta(days=2)
            )
        ).tuples()
    )
    companies: dict[str, Company | None] = {}

    def today(company_id: str, chosen: DigestSettings) -> tuple[Company, date] | None:
        """The company and the recipient's local day when their digest is due now."""
        if chosen.frequency == "off":
            return None
        if company_id not in companies:
            companies[company_id] = load_company(conn, company_id)
        company = companies[company_id]
        if company is None or status_at(company.status, company.ended_at, now) == "deactivated":
            return None
        local = now.astimezone(ZoneInfo(company.timezone))
        at = datetime.combine(local.date(), parse_local_time(chosen.local_time), local.tzinfo)
        if not at <= local < at + CATCH_UP:
            return None
        if chosen.frequency == "weekly" and local.weekday() != WEEKLY_ON:
            return None
        return company, local.date()

    found: list[Due] = []
    for row in people:
        chosen = settings_of(row.role, row.digest_frequency, row.digest_time)
        when = today(row.company_id, chosen)
        if when is not None and (row.id, when[1].isoformat()) not in claimed:
            kind: Literal["daily", "weekly"] = "weekly" if chosen.frequency == "weekly" else "daily"
            found.append(Due(row.id, row.email, row.role, json.loads(row.teams), *when, kind))
    for rep in reps:
        when = today(rep.company_id, DigestSettings("daily", DEFAULT_TIME))
        if when is not None and (rep.id, when[1].isoformat()) not in claimed:
            found.append(Due(rep.id, rep.email, "rep", [], *when, "daily"))
    return found


def report_range(recipient: Due, now: datetime) -> ReportRange:
    first, last = recipient.covered()
    zone = recipient.company.timezone
    return parse_range(first.isoformat(), last.isoformat(), None, zone, now)


def figures(
    conn: Connection, clickhouse: ClickHouse, recipient: Due, now: datetime
) -> dict[str, Any]:
    """What the digest shows, each from the report that defines it, for the recipient's scope."""
    company = recipient.company
    ch = company_view(conn, clickhouse, company)
    scope = (
        (recipient.recipient_id,)
        if recipient.rep
        else team_employees(conn, company.id, recipient.teams)
    )
    rng = report_range(recipient, now)
    f = CallFilter(range=rng, employee_ids=scope or ())
    staff_query = sa.select(
        employees.c.id, employees.c.name, employees.c.team, employees.c.archived_at
    ).where(employees.c.company_id == company.id)
    if scope is not None:
        staff_query = staff_query.where(employees.c.id.in_(scope))
    staff = [
        r._asdict() for r in conn.execute(staff_query.order_by(employees.c.name, employees.c.id))
    ]
    names = {e["id"]: e["name"] for e in staff}
    summary = q.summary(ch, f, rng)
    never, _ = q.never_attended(ch, f, rng, Page(TOP), None)
    not_picked, _ = q.not_picked_up(ch, f, rng, Page(TOP), None)
    rows = q.employee_rows(ch, f, rng, staff)
    active = sorted(
        (row for row in rows if row["total_calls"] or row["working_s"]),
        key=lambda r: (-int(r["working_s"]), r["name"]),
    )
    archived = {e["id"] for e in staff if e["archived_at"] is not None}
    idle = [r for r in rows if r not in active and r["employee_id"] not in archived]
    devices_query = device_rows(company.id).where(devices.c.revoked_at.is_(None))
    quiet = [
        d
        for d in device_views(conn.execute(devices_query), ch.query, now, company.stale_after_s)
        if d["stale"] and (scope is None or d["employee_id"] in scope)
    ]
    for item in never + not_picked:
        item["employees"] = ", ".join(
            names.get(e, "an archived employee") for e in item["employee_ids"]
        )
    late, late_total = (
        followups.overdue(conn, company.id, scope, now, TOP) if company.has_leads else ([], 0)
    )
    zone = ZoneInfo(company.timezone)
    people = people_of(conn, company.id)
    return {
        "summary": summary,
        "never_attended": never,
        "not_picked_up": not_picked,
        "people": active[:PEOPLE],
        "more_people": max(len(active) - PEOPLE, 0),
        "idle": len(idle),
        "quiet": quiet,
        "overdue": [followups.to_followup(row, people, zone, now, None) for row in late],
        "overdue_total": late_total,
        "range": rng,
    }


def duration(seconds: float) -> str:
    s = int(seconds)
    return (
        f"{s // 3600} h {s % 3600 // 60:02d} min" if s >= 3600 else f"{s // 60} min {s % 60:02d} s"
    )


def local_clock(value: Any, zone: ZoneInfo) -> str:
    if value is None:
        return "never"
    at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return f"{at.astimezone(zone):%a %d %b, %H:%M}"


def render(
    recipient: Due, found: dict[str, Any], console: str, unsubscribe: str
) -> tuple[str, str, str]:
    """Subject, text and HTML."""
    zone = ZoneInfo(recipient.company.timezone)
    first, last = recipient.covered()
    period = f"{last:%A %d %B %Y}" if first == last else f"{first:%d %b} - {last:%d %b %Y}"
    if recipient.rep:
        scope = "your own calls"
    elif recipient.teams:
        scope = "your teams " + ", ".join(recipient.teams)
    else:
        scope = "every team"
    context = {
        **found,
        "company": recipient.company.name,
        "zone": recipient.company.timezone,
        "period": period,
        "weekly": recipient.kind == "weekly",
        "scope": scope,
        "console": f"{console}/console/#/dashboard",
        "settings": None if recipient.rep else f"{console}/console/#/account",
        "unsubscribe": unsubscribe,
        "duration": duration,
        "clock": lambda value: local_clock(value, zone),
    }
    kind = "Weekly" if recipient.kind == "weekly" else "Daily"
    subject = f"{kind} calls of {recipient.company.name}: {period}"
    text = TEMPLATES.get_template("digest.txt").render(**context)
    html = TEMPLATES.get_template("digest.html").render(subject=subject, **context)
    return subject, text, html


def claim_and_queue(
    engine: Engine, clickhouse: ClickHouse, recipient: Due, now: datetime, console: str
) -> bool:
    """Compute, render, then claim the day and queue the mail in one transaction; false when
    another worker claimed it first (nothing queued)."""
    with engine.connect() as conn:
        found = figures(conn, clickhouse, recipient, now)
    token = new_secret("unsub_")
    unsubscribe = f"{console}/v1/digest/unsubscribe?token={token}"
    subject, text, html = render(recipient, found, console, unsubscribe)
    headers = {
        "List-Unsubscribe": f"<{unsubscribe}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    with engine.begin() as conn:
        mail_id = str(uuid.uuid4())
        claimed = insert_new(
            conn,
            digest_log,
            [
                {
                    "recipient_id": recipient.recipient_id,
                    "local_day": recipient.local_day.isoformat(),
                    "company_id": recipient.company.id,
                    "kind": recipient.kind,
                    "claimed_at": now,
                    "mail_id": mail_id,
                    "unsubscribe_hash": digest(token),
                }
            ],
        )
        if not claimed:
            return False
        queue_mail(
            conn,
            Mail(recipient.email, subject, text, html, headers),
            now,
            recipient.company.id,
            "digest",
            mail_id,
        )
    return True


def send_due_digests(engine: Engine, clickhouse: ClickHouse, now: datetime, console: str) -> int:
    """One round: every due digest claimed and queued; the number queued. Sent-log rows older
    than KEPT go (their mails' unsubscribe links with them; the console's settings remain)."""
    with engine.begin() as conn:
        conn.execute(digest_log.delete().where(digest_log.c.claimed_at < now - KEPT))
        waiting = due(conn, now)
    return sum(claim_and_queue(engine, clickhouse, r, now, console) for r in waiting)


def unsubscribe(conn: Connection, token: str, now: datetime) -> bool:
    """The digest of the user or rep a mail's one-click link was for turned off; whether the
    link was one of ours."""
    recipient = conn.execute(
        sa.select(digest_log.c.recipient_id).where(digest_log.c.unsubscribe_hash == digest(token))
    ).scalar()
    if recipient is None:
        return False
    off = users.update().where(users.c.id == recipient).values(digest_frequency="off")
    if not conn.execute(off).rowcount:
        conn.execute(
            employees.update().where(employees.c.id == recipient).values(digest_off_at=now)
        )
    return True


def stored(conn: Connection, user_id: str) -> DigestSettings:
    row = conn.execute(
        sa.select(users.c.role, users.c.digest_frequency, users.c.digest_time).where(
            users.c.id == user_id
        )
    ).one()
    return settings_of(row.role, row.digest_frequency, row.digest_time)


def store(conn: Connection, user_id: str, chosen: DigestSettings) -> None:
    conn.execute(
        users.update()
        .where(users.c.id == user_id)
        .values(digest_frequency=chosen.frequency, digest_time=chosen.local_time)
    )
