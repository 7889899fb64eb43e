"""The company archive (API.md "Privacy": `POST /v1/privacy/exports`): a zip of CSV files
written row by row with the standard library's `zipfile` in stream mode, so memory holds one
day of calls, never the archive. Numbers in E.164, times in UTC; rows of pending erasures are
left out like everywhere else. Kept 7 days, then deleted with its file."""

from __future__ import annotations

import io
import json
import logging
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.clickhouse import ClickHouse
from core.company_clickhouse import (
    COMPANY_FILTER,
    NOT_ERASED,
    NOT_ERASED_DEVICE,
    CompanyClickHouse,
)
from core.controlplane import exports, load_company
from core.metrics import privacy_job
from core.notices.lifecycle import export_ready, local_time
from core.notices.notifications import notify
from core.number_crypto import CompanyKeys
from core.privacy.erasures import hidden
from core.privacy.export_rows import (
    CALL_COLUMNS,
    CALLS_SQL,
    CONTACT_COLUMNS,
    CONTACTS_SQL,
    DEVICE_COLUMNS,
    EMPLOYEE_COLUMNS,
    EXPORT_DAYS,
    FOLLOWUP_COLUMNS,
    LEAD_COLUMNS,
    STATUS_COLUMNS,
    STATUS_SQL,
    call_row,
    contact_row,
    device_rows,
    employee_rows,
    followup_rows,
    lead_rows,
    status_row,
)
from core.spreadsheet import SafeCsvWriter

log = logging.getLogger(__name__)
LEASE = timedelta(hours=1)  # a worker that died while writing: another takes it after this
DAY = 86400


def claim(engine: Engine, now: datetime) -> tuple[str, str] | None:
    """The oldest export waiting (or abandoned), leased to this worker: (id, company)."""
    with engine.begin() as conn:
        waiting = sa.or_(
            exports.c.status == "pending",
            sa.and_(exports.c.status == "running", exports.c.leased_until < now),
        )
        row = conn.execute(
            sa.select(exports.c.id, exports.c.company_id)
            .where(waiting)
            .order_by(exports.c.requested_at)
            .limit(1)
        ).first()
        if row is None:
            return None
        taken = conn.execute(
            exports.update()
            .where(exports.c.id == row.id, waiting)
            .values(status="running", leased_until=now + LEASE)
        ).rowcount
    return (row.id, row.company_id) if taken else None


def day_windows(
    ch: CompanyClickHouse, table: str, column: str, term: str
) -> Iterator[tuple[int, int]]:
    """[start, end) of each UTC day from the company's first row to its last."""
    row = ch.query(
        f"""SELECT toUnixTimestamp(min({column})) AS lo, toUnixTimestamp(max({column})) AS hi,
            count() AS n FROM {table} WHERE {COMPANY_FILTER} AND {term}"""
    )[0]
    if not int(row["n"]):
        return
    day = int(row["lo"]) // DAY * DAY
    while day <= int(row["hi"]):
        yield day, day + DAY
        day += DAY


def windowed(
    ch: CompanyClickHouse, sql: str, table: str, column: str, term: str
) -> Iterator[dict[str, Any]]:
    where = f"{column} >= toDateTime(%(lo)s) AND {column} < toDateTime(%(hi)s)"
    for lo, hi in day_windows(ch, table, column, term):
        yield from ch.query(sql.format(where=where), {"lo": lo, "hi": hi})


def write_csv(
    archive: zipfile.ZipFile, name: str, columns: Iterable[str], rows: Iterable[dict[str, Any]]
) -> int:
    """One member of the archive, compressed as it is written; the rows it holds."""
    count = 0
    with archive.open(name, "w", force_zip64=True) as member:
        text = io.TextIOWrapper(member, encoding="utf-8", newline="")
        writer = SafeCsvWriter(text, columns)
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
            count += 1
        text.flush()
        text.detach()
    return count


def write_archive(
    path: Path, engine: Engine, clickhouse: ClickHouse, company_id: str, keys: CompanyKeys
) -> dict[str, int]:
    with engine.connect() as conn:
        ch = CompanyClickHouse(clickhouse, company_id, hidden(conn, company_id))
        counts: dict[str, int] = {}
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            calls = windowed(ch, CALLS_SQL, "calls", "started_at", NOT_ERASED)
            counts["calls"] = write_csv(
                archive, "calls.csv", CALL_COLUMNS, (call_row(r, keys) for r in calls)
            )
            contacts = ch.query(CONTACTS_SQL.format(where="1"))
            counts["contacts"] = write_csv(
                archive, "contacts.csv", CONTACT_COLUMNS, (contact_row(r, keys) for r in contacts)
            )
            del contacts
            counts["leads"] = write_csv(
                archive, "leads.csv", LEAD_COLUMNS, lead_rows(conn, company_id, keys)
            )
            counts["followups"] = write_csv(
                archive, "followups.csv", FOLLOWUP_COLUMNS, followup_rows(conn, company_id, keys)
            )
            counts["employees"] = write_csv(
                archive, "employees.csv", EMPLOYEE_COLUMNS, employee_rows(conn, company_id)
            )
            counts["devices"] = write_csv(
                archive, "devices.csv", DEVICE_COLUMNS, device_rows(conn, company_id)
            )
            statuses = windowed(ch, STATUS_SQL, "device_status", "reported_at", NOT_ERASED_DEVICE)
            counts["device_status"] = write_csv(
                archive, "device_status.csv", STATUS_COLUMNS, (status_row(r) for r in statuses)
            )
    return counts


def run_exports(
    engine: Engine,
    clickhouse: ClickHouse,
    directory: Path,
    keys_of: Callable[[str], CompanyKeys],
    now: Callable[[], datetime],
    console: str,
) -> list[str]:
    """Every waiting export written, its company's owners told; expired ones deleted. The
    exports written. `console` is the public URL the notice links to."""
    expire(engine, now())
    written = []
    while (taken := claim(engine, now())) is not None:
        export_id, company_id = taken
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{export_id}.zip"
        try:
            with privacy_job("export"):
                counts = write_archive(path, engine, clickhouse, company_id, keys_of(company_id))
        except Exception as exc:
            log.exception("export %s of company %s failed", export_id, company_id)
            path.unlink(missing_ok=True)
            with engine.begin() as conn:
                conn.execute(
                    exports.update()
                    .where(exports.c.id == export_id)
                    .values(status="failed", error=type(exc).__name__[:200])
                )
            continue
        done = now()
        with engine.begin() as conn:
            conn.execute(
                exports.update()
                .where(exports.c.id == export_id)
                .values(
                    status="done",
                    done_at=done,
                    expires_at=done + timedelta(days=EXPORT_DAYS),
                    path=str(path),
                    size_bytes=path.stat().st_size,
                    counts=json.dumps(counts),
                )
            )
            company = load_company(conn, company_id)
            if company is not None:
                expires = local_time(done + timedelta(days=EXPORT_DAYS), company.timezone)
                notice = export_ready(export_id, counts, expires, console)
                notify(conn, company_id, notice, done, roles=("owner",))
        log.info("export %s of company %s written: %s", export_id, company_id, counts)
        written.append(export_id)
    return written


def expire(engine: Engine, now: datetime) -> None:
    with engine.begin() as conn:
        old = conn.execute(
            sa.select(exports.c.id, exports.c.path).where(exports.c.expires_at <= now)
        ).all()
        for _export_id, path in old:
            if path:
                Path(path).unlink(missing_ok=True)
        if old:
            conn.execute(exports.delete().where(exports.c.id.in_([row.id for row in old])))
