"""The worker's time-driven privacy jobs (API.md "Privacy", "Subscription"): pending erasures
carried out in ClickHouse, each company's retention, deactivation at `period_end` and the purge
`export_grace_days` later. Plain functions of the time they act at: the worker's leader calls
`run_due` on a timer, tests call each with their own clock."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from core.accounts import subscription
from core.audit import SYSTEM, record
from core.billing.store import settle_due
from core.calls.aggregates import day_start, without_devices, without_number
from core.clickhouse import ClickHouse, Param
from core.company_clickhouse import as_uuid
from core.controlplane import companies, delete_company, exports, forget_deleted
from core.hooks import events as hook_events
from core.metrics import PRIVACY_JOBS, privacy_job
from core.notices import lifecycle as company_notices
from core.notices.notifications import notify
from core.privacy import erasures, mutations
from core.privacy.erasures import Erasure

log = logging.getLogger(__name__)
RETENTION_EVERY = timedelta(days=1)
SETTLE = timedelta(seconds=2)  # > the worker's DROPPED_TTL_S


def _count(clickhouse: ClickHouse, sql: str, params: dict[str, Param]) -> int:
    return int(clickhouse.query(sql, params)[0]["n"])


def number_counts(clickhouse: ClickHouse, company_id: str, client_key: str) -> dict[str, int]:
    p: dict[str, Param] = {"c": company_id, "u": as_uuid(client_key), "k": client_key}
    of_client = "company_id = %(c)s AND client = toUUID(%(u)s)"
    return {
        "calls": _count(clickhouse, f"SELECT count() AS n FROM calls FINAL WHERE {of_client}", p),
        "notes": _count(
            clickhouse,
            f"""SELECT count() AS n FROM call_notes FINAL WHERE company_id = %(c)s
            AND (device_id, client_call_id) IN (
                SELECT device_id, client_call_id FROM calls WHERE {of_client})""",
            p,
        )
        + _count(
            clickhouse, f"SELECT count() AS n FROM calls FINAL WHERE {of_client} AND note != ''", p
        ),
        "contacts": _count(
            clickhouse,
            "SELECT count() AS n FROM contacts FINAL WHERE company_id = %(c)s AND client_key = %(k)s",
            p,
        ),
    }


def device_counts(
    clickhouse: ClickHouse, company_id: str, devices: tuple[str, ...]
) -> dict[str, int]:
    if not devices:
        return {}
    p: dict[str, Param] = {"c": company_id, "d": devices}
    of_devices = "company_id = %(c)s AND device_id IN %(d)s"

    def count(table: str, extra: str = "") -> int:
        return _count(
            clickhouse, f"SELECT count() AS n FROM {table} FINAL WHERE {of_devices}{extra}", p
        )

    return {
        "calls": count("calls"),
        "notes": count("call_notes") + count("calls", " AND note != ''"),
        "contacts": count("contacts"),
        "statuses": count("device_status"),
    }


def carry_out(
    engine: Engine,
    clickhouse: ClickHouse,
    erasure: Erasure,
    now: datetime,
    timeout_s: float = 600.0,
) -> None:
    """Count what the erasure finds (once), delete it from ClickHouse, then mark it done."""
    if "calls" not in erasure.counts:
        if erasure.number_key:
            counts = number_counts(clickhouse, erasure.company_id, erasure.number_key)
        else:
            counts = device_counts(clickhouse, erasure.company_id, erasure.devices)
        with engine.begin() as conn:
            erasures.counted(conn, erasure, counts)
    with engine.begin() as conn:
        erasures.issued(conn, erasure.id, now)
    plans = []
    if erasure.number_key:
        # the number's aggregates without it, while its calls still say which buckets hold it
        without_number(clickhouse, erasure.company_id, erasure.number_key)
        plans.append(mutations.number_plan(erasure.company_id, erasure.number_key))
    if erasure.devices:
        # their hours as zero rows, the whole company's hours without them
        without_devices(clickhouse, erasure.company_id, erasure.devices)
        plans.append(mutations.devices_plan(erasure.company_id, erasure.devices))
        # their calls count in the states of the clients they called: unusable before any
        # goes; the worker's round rebuilds them once the erasure is done
        with engine.begin() as conn:
            states_unusable(conn, erasure.company_id, now)
    for plan in plans:
        mutations.run(clickhouse, plan, timeout_s)
    # before `done`: no page image of the control plane's deleted rows outlives it
    forget_deleted(engine)
    with engine.begin() as conn:
        erasures.finished(conn, erasure.id, now)
        done = erasures.find(conn, erasure.company_id, erasure.id)
        record(
            conn,
            erasure.company_id,
            SYSTEM,
            "erasure.done",
            erasure.id,
            "",
            now,
            {"kind": erasure.kind, "counts": done.counts if done else {}},
        )
    log.info("erasure %s of company %s done", erasure.id, erasure.company_id)


def retain(
    engine: Engine, clickhouse: ClickHouse, now: datetime, timeout_s: float = 600.0
) -> list[str]:
    """Each company with `retention_days` not retained for a day: its calls, statuses and
    contacts older than that deleted. The companies retained."""
    with engine.connect() as conn:
        due = conn.execute(
            sa.select(companies.c.id, companies.c.retention_days, companies.c.timezone).where(
                companies.c.retention_days.is_not(None),
                sa.or_(
                    companies.c.retained_at.is_(None),
                    companies.c.retained_at <= now - RETENTION_EVERY,
                ),
            )
        ).all()
    for company_id, days, zone in due:
        with privacy_job("retention"):
            retain_company(engine, clickhouse, company_id, days, zone, now, timeout_s)
    return [company_id for company_id, _days, _zone in due]


def retain_company(
    engine: Engine,
    clickhouse: ClickHouse,
    company_id: str,
    days: int,
    zone: str,
    now: datetime,
    timeout_s: float,
) -> None:
    cutoff = now - timedelta(days=days)
    with engine.begin() as conn:  # before any call goes
        states_lose_before(conn, company_id, day_start(int(cutoff.timestamp()), zone), now)
    plan = mutations.retention_plan(company_id, int(cutoff.timestamp()), zone)
    mutations.run(clickhouse, plan, timeout_s)
    with engine.begin() as conn:
        hook_events.prune(conn, company_id, cutoff)
        conn.execute(companies.update().where(companies.c.id == company_id).values(retained_at=now))
        details = {"retention_days": days, "cutoff": cutoff.isoformat()}
        record(conn, company_id, SYSTEM, "retention.applied", company_id, "", now, details)


def states_lose_before(conn: Connection, company_id: str, kept_ts: int, now: datetime) -> None:
    """Calls before `kept_ts` are about to go: the client states (core/calls/client_states.py)
    stay exact for ranges from there on; a rebuild under way (no states usable) may have read
    them, so it must not be recorded."""
    kept = datetime.fromtimestamp(kept_ts, UTC)
    row = conn.execute(
        sa.select(companies.c.client_states_from).where(companies.c.id == company_id)
    ).first()
    if row is None:
        return
    if row.client_states_from is None:
        states_unusable(conn, company_id, now)
    else:  # unless they became unusable meanwhile
        conn.execute(
            companies.update()
            .where(companies.c.id == company_id, companies.c.client_states_from < kept)
            .values(client_states_from=kept)
        )


def states_unusable(conn: Connection, company_id: str, now: datetime) -> None:
    """Calls were deleted that the company's client states counted: none is read until the
    worker's client-state round has rebuilt them all (streams/calls/aggregates.py)."""
    conn.execute(
        companies.update()
        .where(companies.c.id == company_id)
        .values(client_states_from=None, client_states_stale_at=now)
    )


def lifecycle(
    engine: Engine, clickhouse: ClickHouse, now: datetime, grace_days: int, console: str
) -> list[str]:
    """Downgrades whose period ended take effect; companies that ended (cancelled, or stopped
    for non-payment) are announced deactivated, with the purge's time in the audit log; the owners and admins of those
    near a milestone told (core/notices/lifecycle.py); those past the export grace purged:
    every ClickHouse row, then every control-plane row with the wrapped data key, so nothing
    the system keeps can read their ciphertext again. The companies purged."""
    with engine.begin() as conn:
        settle_due(conn, now)  # downgrades whose period ended
        for ended in subscription.newly_deactivated(conn, now):
            PRIVACY_JOBS.labels("deactivation", "done").inc()
            purge_at = subscription.purge_at(ended.ended_at, grace_days).isoformat()
            details = {"reason": ended.reason, "purge_at": purge_at}
            company_id = ended.company_id
            record(
                conn, company_id, SYSTEM, "subscription.deactivated", company_id, "", now, details
            )
        company_notices.announce(conn, now, grace_days, console)
        due = subscription.due_for_purge(conn, now, grace_days)
    for company_id in due:
        with privacy_job("purge"):
            purge(engine, clickhouse, company_id, now)
        log.warning("company %s purged (%d days after it ended)", company_id, grace_days)
    return due


def run_due(
    engine: Engine,
    clickhouse: ClickHouse,
    now: Callable[[], datetime],
    grace_days: int,
    console: str,
    timeout_s: float = 600.0,
) -> bool:
    """One round of every time-driven job, each at the time it starts; whether there was
    anything to do (an erasure still settling counts). An erasure waits `SETTLE` after its
    request: by then every worker reads the new suppression list; once done, the owners are
    told. `console` is the public URL the notices link to."""
    purged = lifecycle(engine, clickhouse, now(), grace_days, console)
    with engine.connect() as conn:
        waiting = erasures.pending(conn)
    for erasure in waiting:
        if erasure.requested_at <= now() - SETTLE:
            with privacy_job("erasure"):
                carry_out(engine, clickhouse, erasure, now(), timeout_s)
            with engine.begin() as conn:
                done = erasures.find(conn, erasure.company_id, erasure.id)
                counts = done.counts if done else {}
                notice = company_notices.erasure_done(erasure.id, erasure.kind, counts, console)
                notify(conn, erasure.company_id, notice, now(), roles=("owner",))
    retained = retain(engine, clickhouse, now(), timeout_s)
    return bool(purged or waiting or retained)


def purge(engine: Engine, clickhouse: ClickHouse, company_id: str, now: datetime) -> None:
    """Every row of the company, then a last mail to its owners and admins (which outlives it)."""
    mutations.run(clickhouse, mutations.purge_plan(company_id))
    with engine.begin() as conn:
        emails, name = company_notices.purged_notice(conn, company_id, now)
        for path in conn.execute(
            sa.select(exports.c.path).where(exports.c.company_id == company_id)
        ).scalars():
            if path:
                Path(path).unlink(missing_ok=True)  # the archives hold plaintext numbers
        delete_company(conn, company_id)
        company_notices.announce_purged(conn, emails, name, now)
