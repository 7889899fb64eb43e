"""Every report page of the console in a real browser (Debian's Chromium through Selenium) over
one company's calls of the last 30 days (5 million in the full run): from the start of the
navigation until the page says it rendered (its `<page>-ready` mark: for the dashboard tiles,
both charts and the employees table drawn). Next to each, in the same run: the page's own
report requests sent at once from Python (what the API itself takes), and a console page that
asks no report (the privacy page: the shell, its scripts and `/v1/me`)."""

from __future__ import annotations

import base64
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

from api.auth.passwords import hasher
from bench.leads import MASTER_KEY, new_company
from bench.report_data import BIG_COMPANY, ZONE, ReportDataShape, generate, now_utc, with_rollups
from core.clickhouse import connect, migrate
from core.controlplane import employees, make_engine, users
from core.controlplane import migrate as migrate_controlplane
from deploy.local_stack import free_port, http_ok

EMAIL = "owner@bench.example"
PASSWORD = "bench console passphrase"
DAYS = 30


def dashboard_shape(calls: int, employees_count: int = 200, days: int = DAYS) -> ReportDataShape:
    """Every call in one company (the generator's one small company gets none), over `days`
    (the pages show the last 30 of them)."""
    return ReportDataShape(
        total_calls=calls,
        big_share=1.0,
        days=days,
        big_employees=employees_count,
        small_companies=1,
    )


def prepare(scratch: Path, shape: ReportDataShape, progress: Callable[[str], None]) -> str:
    """The calls in chDB and the company, its employees and an owner in SQLite; the URL of the
    control plane."""
    progress(
        f"console: generating {shape.total_calls:,} calls of one company over {shape.days} days"
    )
    store = connect(f"chdb://{scratch / 'chdb'}")
    migrate(store)
    generate(store, shape, now_utc())
    with_rollups(store)
    store.close()
    database_url = f"sqlite:///{scratch / 'control.db'}"
    engine = make_engine(database_url)
    migrate_controlplane(engine)
    new_company(engine, BIG_COMPANY, day_zone=ZONE)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        known = set(conn.execute(sa.select(employees.c.id)).scalars())
        conn.execute(
            employees.insert(),
            [
                {
                    "id": f"{BIG_COMPANY}-emp-{index}",
                    "company_id": BIG_COMPANY,
                    "name": f"Employee {index}",
                    "tracking_enabled": True,
                    "created_at": now,
                }
                for index in range(shape.big_employees)
                if f"{BIG_COMPANY}-emp-{index}" not in known
            ],
        )
        conn.execute(
            users.insert().values(
                id=str(uuid.uuid4()),
                company_id=BIG_COMPANY,
                email=EMAIL,
                password_hash=hasher.hash(PASSWORD),
                role="owner",
                created_at=now,
            )
        )
    engine.dispose()
    return database_url


def serve(chdb_dir: str, port: str) -> None:
    """The report API over that chDB, alone in this process (in a stack the worker holds it)."""
    from api.app import create_app
    from core.devices.push import pusher_from_settings
    from core.settings import Settings
    from deploy.services import api_context, serve_http

    settings = Settings()
    store = connect(f"chdb://{chdb_dir}")
    app = create_app(api_context(settings, store, pusher_from_settings(settings)))
    serve_http(app, "127.0.0.1", int(port), settings)


def start_api(scratch: Path, database_url: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {
        "CLOSECALL_ENVIRONMENT": "test",
        "CLOSECALL_DATA_DIR": str(scratch),
        "CLOSECALL_DATABASE_URL": database_url,
        "CLOSECALL_MASTER_KEY": base64.b64encode(MASTER_KEY).decode(),
        "CLOSECALL_LOG_LEVEL": "warn",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.console", str(scratch / "chdb"), str(port)],
        env={**os.environ, **env},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while not http_ok(f"{url}/healthz"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the report API over the benchmark's chDB did not start")
        time.sleep(0.2)
    return process, url


def navigate(driver: WebDriver, url: str, page: str) -> float:
    """Milliseconds from the navigation's start to the page's `<page>-ready` mark."""
    driver.get("about:blank")
    driver.get(url)
    WebDriverWait(driver, 120).until(
        lambda d: d.execute_script(f"return performance.getEntriesByName('{page}-ready').length")
    )
    mark: float = driver.execute_script(
        f"return performance.getEntriesByName('{page}-ready')[0].startTime"
    )
    return mark


Reads = list[tuple[str, dict[str, str]]]


def page_reads(params: dict[str, str]) -> dict[str, Reads]:
    """Each report page and the report requests it sends for the range (beside `/v1/me` and
    the employees list every page with filters reads)."""
    return {
        "dashboard": [
            ("/v1/reports/summary", params),
            ("/v1/reports/analytics", {**params, "group_by": "day", "unique_clients": "false"}),
            (
                "/v1/reports/analytics",
                {**params, "group_by": "hour_of_day", "unique_clients": "false"},
            ),
            ("/v1/reports/employees", params),
        ],
        "never-attended": [("/v1/reports/never-attended", params)],
        "not-picked-up": [("/v1/reports/not-picked-up", params)],
        "customers": [("/v1/reports/customers", params)],
        "calls": [("/v1/reports/summary", params), ("/v1/calls", {**params, "limit": "50"})],
        "working-hours": [("/v1/reports/working-hours", params)],
    }


def api_alone(url: str, token: str, requests: Reads) -> float:
    """A page's report requests at once, as the page sends them: milliseconds."""
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as c:
        started = time.perf_counter()
        with ThreadPoolExecutor(len(requests)) as pool:
            answers = list(pool.map(lambda r: c.get(r[0], params=r[1]), requests))
        elapsed = (time.perf_counter() - started) * 1000
    assert all(answer.status_code == 200 for answer in answers), [a.text for a in answers]
    return elapsed


def summary_of(samples: list[float]) -> dict[str, float]:
    # p95 by the inclusive method: with few samples it lies between the two slowest
    p95 = statistics.quantiles(samples, n=20, method="inclusive")[18] if len(samples) > 1 else 0
    return {
        "first_ms": round(samples[0]),
        "p50_ms": round(statistics.median(samples)),
        "p95_ms": round(p95 or samples[0]),
        "max_ms": round(max(samples)),
    }


def run(
    scratch: Path,
    shape: ReportDataShape,
    repeats: int,
    progress: Callable[[str], None],
) -> dict[str, Any]:
    """The pages over the last 30 days of `shape` (dashboard_shape)."""
    from tests.support.browser import chromium, sign_in  # the tests' Chromium, same options

    scratch.mkdir(parents=True, exist_ok=True)
    calls = shape.total_calls
    database_url = prepare(scratch, shape, progress)
    process, url = start_api(scratch, database_url)
    today = datetime.now(UTC).date()
    params = {"from": (today - timedelta(days=DAYS - 1)).isoformat(), "to": today.isoformat()}
    reads = page_reads(params)
    loads: dict[str, list[float]] = {page: [] for page in reads}
    try:
        login = httpx.post(f"{url}/v1/auth/login", json={"email": EMAIL, "password": PASSWORD})
        token = login.json()["access_token"]
        progress(f"console: {repeats} loads of {len(reads)} pages in Chromium over {calls:,} calls")
        with chromium() as driver:
            sign_in(driver, url, EMAIL, PASSWORD)
            WebDriverWait(driver, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#nav a"))
            for _ in range(repeats):  # pages in turn, so a slow spell of the machine hits all
                for page in reads:
                    target = f"{url}/console/#/{page}?from={params['from']}&to={params['to']}"
                    loads[page].append(navigate(driver, target, page))
            driver.get(f"{url}/console/#/dashboard?from={params['from']}&to={params['to']}")
            WebDriverWait(driver, 120).until(
                lambda d: d.find_elements(By.CSS_SELECTOR, ".tile[data-metric=total_calls]")
            )
            tiles = driver.find_element(By.CSS_SELECTOR, ".tile[data-metric=total_calls]")
            shown_calls = int(tiles.get_attribute("data-value") or 0)
            shell = [
                navigate(driver, f"{url}/console/#/privacy", "privacy") for _ in range(repeats)
            ]
        alone = {
            page: [api_alone(url, token, requests) for _ in range(repeats)]
            for page, requests in reads.items()
        }
    finally:
        process.terminate()
        process.wait(30)
    pages = {
        page: {"page": summary_of(loads[page]), "api_alone": summary_of(alone[page])}
        for page in reads
    }
    return {
        "calls": calls,
        "history_days": shape.days,
        "employees": shape.big_employees,
        "shown_calls": shown_calls,
        "dashboard": pages["dashboard"]["page"],
        "api_alone": pages["dashboard"]["api_alone"],
        "pages": pages,
        "shell": summary_of(shell),
        "repeats": repeats,
    }


if __name__ == "__main__":
    serve(sys.argv[1], sys.argv[2])
