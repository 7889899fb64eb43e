"""Digest figures: a company of `big_employees` (2,000 in the issue's run) in teams of ten, a
manager per team and an owner, over the report data's history. Each recipient's morning digest
is computed, rendered (Jinja2, HTML and text), claimed and queued, then handed to a local SMTP
server (aiosmtpd, counting what it takes) by the worker's own mail sender: digests per second
from the round's start until the server has them all. The baseline, in the same run: the same
recipients' report reads alone (core/notices/digests.figures: the summary, the two client lists,
the employees' rows and the devices), the part of a digest the reports define."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiosmtpd.controller import Controller

from bench.leads import MASTER_KEY
from bench.report_data import BIG_COMPANY, ZONE, ReportDataShape, generate, now_utc, with_rollups
from core.calls import client_states
from core.clickhouse import connect, migrate
from core.controlplane import companies, employees, make_engine, users
from core.controlplane import migrate as migrate_controlplane
from core.mail import send_due_mail
from core.notices import digests
from core.number_crypto import new_wrapped_data_key
from core.settings import Settings
from deploy.local_stack import free_port

TEAM = 10  # employees per team, one manager each
CONSOLE = "https://calls.example"


class Counting:
    def __init__(self) -> None:
        self.received = 0
        self.bytes = 0

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        self.received += 1
        self.bytes += len(envelope.content)
        return "250 OK"


def company(engine: Any, staff: int, now: datetime) -> int:
    """The big company with its employees in teams, a manager per team and an owner; the
    recipients."""
    with engine.begin() as conn:
        conn.execute(
            companies.insert().values(
                id=BIG_COMPANY,
                name="Bench Traders",
                country="IN",
                timezone=ZONE,
                rollup_zone=ZONE,
                client_states_from=client_states.EPOCH,
                plan="basic",
                wrapped_data_key=new_wrapped_data_key(MASTER_KEY, BIG_COMPANY),
                created_at=now,
            )
        )
        conn.execute(
            employees.insert(),
            [
                {
                    "id": f"{BIG_COMPANY}-emp-{n}",
                    "company_id": BIG_COMPANY,
                    "name": f"Employee {n:04d}",
                    "team": f"team-{n // TEAM}",
                    "tracking_enabled": True,
                    "created_at": now,
                }
                for n in range(staff)
            ],
        )
        people: list[tuple[str, str, list[str]]] = [("owner", "owner@bench.example", [])] + [
            ("manager", f"manager-{t}@bench.example", [f"team-{t}"]) for t in range(staff // TEAM)
        ]
        conn.execute(
            users.insert(),
            [
                {
                    "id": str(uuid.uuid4()),
                    "company_id": BIG_COMPANY,
                    "email": email,
                    "password_hash": "",
                    "role": role,
                    "teams": json.dumps(teams),
                    "created_at": now,
                }
                for role, email, teams in people
            ],
        )
    return len(people)


def timed(run: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run()
    return time.perf_counter() - started, result


def run(workdir: Path, shape: ReportDataShape, progress: Callable[[str], None]) -> dict[str, Any]:
    workdir.mkdir(parents=True, exist_ok=True)
    store = connect(f"chdb://{workdir / 'chdb'}")
    migrate(store)
    end = now_utc()
    progress(f"digests: generating {shape.total_calls:,} calls")
    generate(store, shape, end)
    with_rollups(store)
    engine = make_engine(f"sqlite:///{workdir / 'control.db'}")
    migrate_controlplane(engine)
    recipients = company(engine, shape.big_employees, end - timedelta(days=1))
    zone = ZoneInfo(ZONE)
    at = datetime.combine(end.astimezone(zone).date(), clock_time(8), zone).astimezone(UTC)
    with engine.connect() as conn:
        due = digests.due(conn, at)
    assert len(due) == recipients, (len(due), recipients)

    progress(f"digests: the report reads of {recipients} digests alone")
    with engine.connect() as conn:
        for warm in due[:3]:  # the first reads open chDB's files: not part of either figure
            digests.figures(conn, store, warm, at)
        reads_s, _ = timed(lambda: [digests.figures(conn, store, d, at) for d in due])

    progress(f"digests: {recipients} digests rendered, queued and handed to SMTP")
    inbox = Counting()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        settings = Settings(environment="test", smtp_url=f"smtp://127.0.0.1:{controller.port}")
        queue_s, queued = timed(lambda: digests.send_due_digests(engine, store, at, CONSOLE))

        def send_all() -> None:
            while send_due_mail(engine, settings, at, limit=500):
                pass

        send_s, _ = timed(send_all)
    finally:
        controller.stop()
    store.close()
    assert queued == inbox.received == recipients, (queued, inbox.received, recipients)
    total_s = queue_s + send_s
    return {
        "calls": shape.total_calls,
        "employees": shape.big_employees,
        "recipients": recipients,
        "report_reads_per_s": round(recipients / reads_s, 1),
        "digests_per_s": round(recipients / total_s, 1),
        "ratio": round(reads_s / total_s, 2),
        "queue_s": round(queue_s, 2),
        "smtp_s": round(send_s, 2),
        "mail_kb": round(inbox.bytes / inbox.received / 1024, 1),
    }
