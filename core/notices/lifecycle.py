"""The subscription's notices (API.md "Digests and notifications"): the owner and admins are told
7 days and 1 day before the deactivation, at it, 2 days before the purge and after it: only
companies ending for a reason (cancelled, or stopped for non-payment: `ended_at`). Each round
tells only the latest milestone passed for the current `ended_at` (a worker down for a week
sends one notice, not four stale ones); the key holds `ended_at`, so a company reactivated and
ended again is announced again, and each milestone once per user
(core/notices/notifications.py)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.accounts.subscription import ending_for_a_reason, purge_at
from core.controlplane import companies
from core.notices.notifications import Notice, mail_to_addresses, notify, recipients

WARNED = timedelta(days=7)  # the first notice, before `ended_at`
PURGE_WARNING = timedelta(days=2)  # before the purge


@dataclass(frozen=True, slots=True)
class Milestone:
    name: str
    kind: str
    at: datetime


def local_time(at: datetime, zone: str) -> str:
    """A time as a person reads it: in the company's zone, which it names."""
    return f"{at.astimezone(ZoneInfo(zone)):%a %d %b %Y, %H:%M} ({zone})"


def milestones(ended_at: datetime, grace_days: int) -> list[Milestone]:
    purge = purge_at(ended_at, grace_days)
    return [
        Milestone("7d", "subscription.deactivating", ended_at - WARNED),
        Milestone("1d", "subscription.deactivating", ended_at - timedelta(days=1)),
        Milestone("at", "subscription.deactivated", ended_at),
        Milestone("purging", "company.purging", purge - PURGE_WARNING),
    ]


def latest_passed(ended_at: datetime, grace_days: int, now: datetime) -> Milestone | None:
    passed = [m for m in milestones(ended_at, grace_days) if m.at <= now]
    return passed[-1] if passed else None


def notice_of(
    milestone: Milestone, name: str, zone: str, ended_at: datetime, grace_days: int, console: str
) -> Notice:
    end, purge = local_time(ended_at, zone), local_time(purge_at(ended_at, grace_days), zone)
    export = f"Download the company export (Privacy) before {purge}, when every record is deleted."
    if milestone.kind == "subscription.deactivating":
        title = f"{name} will be deactivated on {end}"
        body = (
            f"The subscription of {name} ends on {end}. From then on the phones' uploads are "
            "refused and the reports are closed until an owner reactivates it (Company). "
            f"{export}"
        )
    elif milestone.kind == "subscription.deactivated":
        title = f"{name} is deactivated"
        body = (
            f"The subscription of {name} ended on {end}: the phones' uploads are refused and the "
            f"reports are closed until an owner reactivates it (Company). {export}"
        )
    else:
        title = f"{name}'s data will be deleted on {purge}"
        body = (
            f"The subscription of {name} ended on {end}. On {purge} every call, contact, lead "
            "and user of the company is deleted and its key destroyed; this cannot be undone. "
            "Reactivate it (Company) or download the company export (Privacy) before then."
        )
    key = f"{milestone.name}:{ended_at.isoformat()}"
    return Notice(milestone.kind, key, title, body, f"{console}/console/#/company")


def announce(conn: Connection, now: datetime, grace_days: int, console: str) -> int:
    """Tell every company within a milestone of its end; the users told now."""
    rows = conn.execute(
        sa.select(companies.c.id, companies.c.name, companies.c.timezone, companies.c.ended_at)
        .where(ending_for_a_reason(), companies.c.ended_at <= now + WARNED)
        .order_by(companies.c.id)
    )
    told = 0
    for row in rows.all():
        milestone = latest_passed(row.ended_at, grace_days, now)
        if milestone is not None:
            notice = notice_of(milestone, row.name, row.timezone, row.ended_at, grace_days, console)
            told += notify(conn, row.id, notice, now)
    return told


def purged_notice(conn: Connection, company_id: str, now: datetime) -> tuple[Sequence[str], str]:
    """Before the purge deletes them: the owner's and admins' addresses and the company's name,
    for `announce_purged` once it is done."""
    name = conn.execute(sa.select(companies.c.name).where(companies.c.id == company_id))
    return [row.email for row in recipients(conn, company_id)], str(name.scalar_one())


def announce_purged(conn: Connection, emails: Sequence[str], name: str, now: datetime) -> None:
    notice = Notice(
        "company.purged",
        "purged",
        f"{name}'s data is deleted",
        f"As announced, every record of {name} on closecall was deleted and its key destroyed: "
        "no copy of its calls, contacts or leads can be read again. Thank you for using it.",
    )
    mail_to_addresses(conn, emails, notice, name, now)


def export_ready(export_id: str, counts: dict[str, int], expires: str, console: str) -> Notice:
    """The company export an owner asked for is written (owners only can download it)."""
    held = ", ".join(f"{n:,} {what}" for what, n in counts.items())
    return Notice(
        "export.ready",
        f"export:{export_id}",
        "The company export is ready",
        f"The archive of every record you asked for is ready to download ({held}). It is "
        f"kept until {expires}; download it from Privacy.",
        f"{console}/console/#/privacy",
    )


def erasure_done(erasure_id: str, kind: str, counts: dict[str, int], console: str) -> Notice:
    held = ", ".join(f"{n:,} {what}" for what, n in counts.items()) or "nothing stored"
    what = "an employee's data" if kind == "employee" else "a client number"
    return Notice(
        "erasure.done",
        f"erasure:{erasure_id}",
        "An erasure is done",
        f"The erasure of {what} ({erasure_id}) is done: {held} deleted from every report, "
        "export and integration.",
        f"{console}/console/#/privacy",
    )
