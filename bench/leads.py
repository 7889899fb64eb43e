"""Leads: importing a spreadsheet of 10,000 rows end to end (parse, normalise, dedupe, encrypt,
assign, insert, the ClickHouse lookup) next to the same run's bare bulk insert of the same rows
into the same database; and a page of 100 leads with their status over the report data's calls
next to the control-plane page query alone."""

from __future__ import annotations

import csv
import hashlib
import io
import random
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from api.leads.models import LeadStatus
from api.leads.rows import csv_rows
from api.leads.service import LeadQuery, list_leads
from api.leads.store import LeadWriter, WriteOptions, write_leads
from api.policy import Role
from api.tenancy import Tenant
from bench.report_data import BIG_COMPANY
from core.calls import client_states
from core.calls.phone_numbers import mask_number
from core.clickhouse import ClickHouse
from core.company_clickhouse import CompanyClickHouse
from core.controlplane import (
    bulk_insert,
    companies,
    employees,
    lead_numbers,
    leads,
    load_company,
    make_engine,
    migrate,
)
from core.number_crypto import encrypt_number, new_wrapped_data_key, unwrap_company_keys
from core.paging import Page
from deploy.fleet import indian_mobile_forms

MASTER_KEY = bytes(range(32))
IMPORT_ROWS = 10_000
EMPLOYEES = 20
LIST_LEADS = 10_000


def new_company(engine: Engine, company_id: str, day_zone: str | None = None) -> None:
    """The company in the control plane (`day_zone`: its days and client states are written,
    bench/report_data)."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            companies.insert().values(
                id=company_id,
                name=company_id,
                country="IN",
                timezone="Asia/Kolkata",
                rollup_zone=day_zone,
                client_states_from=client_states.EPOCH if day_zone else None,
                plan="basic_lead",
                wrapped_data_key=new_wrapped_data_key(MASTER_KEY, company_id),
                created_at=now,
            )
        )
        conn.execute(
            employees.insert(),
            [
                {
                    "id": f"{company_id}-emp-{index}",
                    "company_id": company_id,
                    "name": f"Employee {index}",
                    "tracking_enabled": True,
                    "created_at": now,
                }
                for index in range(EMPLOYEES)
            ],
        )


def spreadsheet(rows: int, seed: int = 7) -> bytes:
    """A CSV as a spreadsheet exports it: BOM, semicolons, mixed-case headers, numbers in every
    format, 2% of rows repeating an earlier number."""
    rng = random.Random(seed)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    writer.writerow(["Full Name", "Mobile", "E-Mail", "Company Name", "Remarks"])
    numbers: list[str] = []
    for index in range(rows):
        digits = rng.choice(numbers) if numbers and rng.random() < 0.02 else None
        digits = digits or f"{rng.choice('6789')}{rng.randrange(10**8, 10**9)}"
        numbers.append(digits)
        writer.writerow(
            [
                f"Lead {index} Kumar",
                rng.choice(indian_mobile_forms(digits)),
                f"lead{index}@example.com",
                f"Company {index % 300}",
                "imported",
            ]
        )
    return ("\ufeff" + out.getvalue()).encode()


def tenant_of(engine: Engine, store: ClickHouse, company_id: str) -> Tenant:
    with engine.connect() as conn:
        company = load_company(conn, company_id)
    assert company is not None
    return Tenant(company, Role.owner, CompanyClickHouse(store, company_id))


def timed_import(
    engine: Engine, store: ClickHouse, data: bytes, company_id: str = "bench-import"
) -> tuple[float, dict[str, int]]:
    tenant = tenant_of(engine, store, company_id)
    keys = unwrap_company_keys(MASTER_KEY, tenant.company.id, tenant.company.wrapped_data_key)
    started = time.perf_counter()
    with engine.connect() as conn, conn.begin():
        writer = LeadWriter(conn, tenant.company, keys, None, datetime.now(UTC))
        written = write_leads(writer, tenant.clickhouse, csv_rows(data), WriteOptions())
        writer.commit_to(store, lead_cursor=writer.cursor)
    elapsed = time.perf_counter() - started
    result = written.result
    return elapsed, {"created": result.created, "duplicates": result.skipped}


def timed_bare_insert(engine: Engine) -> float:
    """The rows the import wrote (leads and their numbers), read back and inserted again as they
    are, under another company: what the database itself needs."""
    with engine.connect() as conn:
        imported = sa.select(leads).where(leads.c.company_id == "bench-import")
        lead_rows = [row._asdict() for row in conn.execute(imported)]
        numbers = sa.select(lead_numbers).where(lead_numbers.c.company_id == "bench-import")
        number_rows = [row._asdict() for row in conn.execute(numbers)]
    renamed = {row["id"]: str(uuid.uuid4()) for row in lead_rows}
    for row in lead_rows:
        row.update(id=renamed[row["id"]], company_id="bench-bare", employee_id=None)
    for row in number_rows:
        row.update(lead_id=renamed[row["lead_id"]], company_id="bench-bare")
    started = time.perf_counter()
    with engine.begin() as conn:  # the fastest bulk path of the database, as the import's
        bulk_insert(conn, leads, lead_rows)
        bulk_insert(conn, lead_numbers, number_rows)
    return time.perf_counter() - started


def import_run(engine: Engine, store: ClickHouse) -> dict[str, Any]:
    migrate(engine)
    for company_id in ("bench-import", "bench-bare", "bench-warm-up"):
        new_company(engine, company_id)
    data = spreadsheet(IMPORT_ROWS)
    # a running API has loaded the number metadata and compiled its statements: not timed
    timed_import(engine, store, spreadsheet(200, seed=8), "bench-warm-up")
    import_s, counts = timed_import(engine, store, data)
    bare_s = timed_bare_insert(engine)
    return {
        "rows": IMPORT_ROWS,
        **counts,
        "import_s": round(import_s, 3),
        "rows_per_s": round(IMPORT_ROWS / import_s),
        "bare_insert_s": round(bare_s, 3),
        "ratio_to_bare_insert": round(bare_s / import_s, 2),
    }


def seed_report_leads(engine: Engine, store: ClickHouse, count: int) -> None:
    """`count` leads of the report data's big company, each holding one of its clients (the
    generated blind indexes), so their status comes from its calls."""
    migrate(engine)
    new_company(engine, BIG_COMPANY)
    tenant = tenant_of(engine, store, BIG_COMPANY)
    keys = unwrap_company_keys(MASTER_KEY, BIG_COMPANY, tenant.company.wrapped_data_key)
    now = datetime.now(UTC)
    rows, numbers, lookup = [], [], []
    for client_no in range(count):
        number = f"+9198{client_no:08d}"
        client_key = hashlib.md5(f"{BIG_COMPANY}{client_no}".encode()).hexdigest()  # as generated
        lead_id = str(uuid.UUID(int=client_no + 1))
        rows.append(
            {
                "id": lead_id,
                "company_id": BIG_COMPANY,
                "first_name": f"Lead {client_no}",
                "primary_enc": encrypt_number(keys, number),
                "primary_masked": mask_number(number),
                "employee_id": f"{BIG_COMPANY}-emp-{client_no % EMPLOYEES}",
                "created_at": now,
                "updated_at": now,
                "feed_seq": client_no + 1,
                "assigned_at": now,
            }
        )
        numbers.append(
            {
                "company_id": BIG_COMPANY,
                "number_key": client_key,
                "lead_id": lead_id,
                "slot": "primary",
            }
        )
        lookup.append((BIG_COMPANY, client_key, lead_id, 1, 0))
    with engine.begin() as conn:
        conn.execute(leads.insert(), rows)
        conn.execute(lead_numbers.insert(), numbers)
    store.insert(
        "lead_clients", ("company_id", "client_key", "lead_id", "version", "deleted"), lookup
    )


def list_run(
    engine: Engine,
    store: ClickHouse,
    count: int,
    timed: Callable[[Callable[[], Any], int], dict[str, float]],
    repeats: int,
) -> dict[str, Any]:
    seed_report_leads(engine, store, count)
    tenant = tenant_of(engine, store, BIG_COMPANY)
    keys = unwrap_company_keys(MASTER_KEY, BIG_COMPANY, tenant.company.wrapped_data_key)
    page = Page(100)
    page_sql = (
        sa.select(leads)
        .where(leads.c.company_id == BIG_COMPANY)
        .order_by(leads.c.created_at.desc(), leads.c.id.desc())
        .limit(101)
    )

    def listed(query: LeadQuery) -> Callable[[], Any]:
        def run() -> Any:
            with engine.connect() as db:
                return list_leads(db, tenant, keys, query, page)

        return run

    def bare() -> Any:
        with engine.connect() as db:
            return list(db.execute(page_sql))

    return {
        "leads": count,
        "baseline: the page query alone": timed(bare, repeats),
        "GET /v1/leads, 100 with status": timed(listed(LeadQuery()), repeats),
        "GET /v1/leads?status=connected": timed(
            listed(LeadQuery(status=LeadStatus.connected)), repeats
        ),
    }


POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def on_postgres(work: Callable[[Engine], dict[str, Any]]) -> dict[str, Any]:
    """`work` on a fresh PostgreSQL database (dropped afterwards), or why it could not run."""
    name = f"closecall_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError:
        return {"unavailable": "PostgreSQL at 127.0.0.1:5432 is unreachable"}
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}")
    try:
        return work(engine)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def run(
    store: ClickHouse,
    data_dir: Path,
    timed: Callable[[Callable[[], Any], int], dict[str, float]],
    repeats: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """Both figures, the import on SQLite and on PostgreSQL; `store` holds the report data."""
    progress(f"leads: importing {IMPORT_ROWS:,} CSV rows on SQLite and on PostgreSQL")
    sqlite = make_engine(f"sqlite:///{data_dir / 'leads-import.db'}")
    results: dict[str, Any] = {"import": {"sqlite": import_run(sqlite, store)}}
    sqlite.dispose()
    results["import"]["postgresql"] = on_postgres(lambda engine: import_run(engine, store))
    progress(f"leads: timing GET /v1/leads at {LIST_LEADS:,} leads ({repeats} runs each)")
    listing = make_engine(f"sqlite:///{data_dir / 'leads-list.db'}")
    results["list"] = list_run(listing, store, LIST_LEADS, timed, repeats)
    listing.dispose()
    return results
