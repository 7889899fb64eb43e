"""The manager console in a real browser (Debian's Chromium through chromedriver) against a real
stack: sign-in with password and TOTP, the dashboard's numbers against the report API, an
audited reveal, a CSV import's dry run, what a viewer sees and may not do, cross-site posts,
page weight, phone width, labels; and a screenshot of every page (CONSOLE_SCREENSHOTS=docs/console
writes the README's)."""

from __future__ import annotations

import csv
import http.server
import io
import json
import random
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import openpyxl
import pyotp
import pytest
import zxingcpp
from PIL import Image
from selenium.webdriver import Chrome
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import Select

from core.controlplane import devices, make_engine
from core.spreadsheet import neutral
from deploy.local_stack import free_port
from tests.conftest import shared_stack
from tests.support.browser import (
    PHONE,
    chromium,
    open_page,
    rerendered,
    screenshot_dir,
    settle,
    sign_in,
    text_of,
    wait_for,
)
from tests.support.calls import client_pool, realistic_calls
from tests.support.receiver import Receiver
from tests.support.services import Broker
from tests.support.smtp import Inbox, smtp_server
from tests.support.stack import Stack, eventually
from tests.test_devices_e2e import status
from tests.test_pipeline_e2e import history, upload
from tests.test_users_and_mail import token_in

PASSWORD = "correct horse battery staple"
VIEWER_PASSWORD = "a viewer's long passphrase"
RANGE = {"from": "2026-03-02", "to": "2026-03-04"}
DASHBOARD = f"dashboard?from={RANGE['from']}&to={RANGE['to']}"
IST = timezone(timedelta(hours=5, minutes=30))
# never attended: missed, and nobody connected with them afterwards; not picked up: outgoing
# calls of 0 s, never connected
UNATTENDED = ["9000000011", "9000000012", "9000000013"]
UNPICKED = ["9000000021", "9000000022"]
PAGES = [
    DASHBOARD,
    f"never-attended?from={RANGE['from']}&to={RANGE['to']}",
    f"not-picked-up?from={RANGE['from']}&to={RANGE['to']}",
    f"calls?from={RANGE['from']}&to={RANGE['to']}",
    f"working-hours?from={RANGE['from']}&to={RANGE['to']}",
    "devices",
    "leads",
    "hooks",
    "access",
    "privacy",
    "account",
    "employees",
    f"customers?from={RANGE['from']}&to={RANGE['to']}",
    f"leads-report?from={RANGE['from']}&to={RANGE['to']}",
    "company",
    "audit",
]
PAGE_WEIGHT_LIMIT = 300 * 1024  # bytes of HTML, CSS and scripts, without the API's answers


class Company:
    def __init__(self, stack: Stack, made: dict[str, str], inbox: Inbox) -> None:
        self.stack, self.key, self.inbox = stack, made["api_key"], inbox
        self.owner = "owner@consoleco.example"
        self.viewer = "viewer@consoleco.example"
        self.totp = ""
        self.last_step = -1
        self.token = ""  # a device's, for uploads during the tests

    def code(self) -> str:
        """A TOTP code not used before: each is accepted once, so a second sign-in within the
        same 30 s waits for the next one."""
        totp = pyotp.TOTP(self.totp)
        while totp.timecode(datetime.now(UTC)) <= self.last_step:
            time.sleep(0.5)
        self.last_step = totp.timecode(datetime.now(UTC))
        return totp.now()

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def get(self, path: str, **params: Any) -> Any:
        answer = self.stack.api.get(path, params=params, headers=self.auth)
        assert answer.status_code == 200, answer.text
        return answer.json()


def calls_of(prefix: str, rng: random.Random, pool: list[str]) -> list[dict[str, Any]]:
    days = [datetime(2026, 3, day, 9, 0, tzinfo=IST) for day in (2, 3, 4)]
    return [
        call.wire()
        for index, day in enumerate(days)
        for call in realistic_calls(rng, 120, day, pool, prefix=f"{prefix}{index}-")
    ]


def one_call(call_id: str, number: str, kind: str, hour: int) -> dict[str, Any]:
    return {
        "id": call_id,
        "number": number,
        "type": kind,
        "duration_s": 0,
        "started_at": datetime(2026, 3, 3, hour, 0, tzinfo=IST).isoformat(),
    }


def seed(stack: Stack, inbox: Inbox) -> Company:
    company = Company(stack, stack.signup("Consoleco", plan="basic_lead"), inbox)
    rng = random.Random(17)
    pool = client_pool(rng, 60)
    uploaded = 0
    for name, team in (("Asha Rao", "North"), ("Ravi Kumar", "South")):
        device = stack.enrolled_device(company.key, name, f"hw-{name}")
        employee_id = device["employee_id"]
        patched = stack.api.patch(
            f"/v1/employees/{employee_id}", json={"team": team}, headers=company.auth
        )
        assert patched.status_code == 200, patched.text
        health = {
            "at": datetime.now(UTC).isoformat(),
            "battery_pct": 40 + len(name),
            "charging": team == "North",
            "app_version": "1.8.2",
            "network": "wifi" if team == "North" else "4g",
        }
        assert status(stack, device["device_token"], health).is_success
        calls = calls_of(name[:1], rng, pool)
        for start in range(0, len(calls), 100):
            assert upload(stack, device["device_token"], calls[start : start + 100]).is_success
        uploaded += len(calls)
    extra = [one_call(f"u{i}", n, "missed", 10 + i) for i, n in enumerate(UNATTENDED)]
    extra += [one_call(f"p{i}", n, "outgoing", 15 + i) for i, n in enumerate(UNPICKED)]
    assert upload(stack, device["device_token"], extra).is_success
    uploaded += len(extra)
    company.token = device["device_token"]
    eventually(lambda: len(history(stack, company.key)) == uploaded, 120)
    # a phone that never sent anything since it was enrolled two days ago: stale
    quiet = stack.enrolled_device(company.key, "Old Phone", "hw-old")
    engine = make_engine(stack.env["CLOSECALL_DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(
            devices.update()
            .where(devices.c.id == quiet["device_id"])
            .values(enrolled_at=datetime.now(UTC) - timedelta(days=2))
        )
    engine.dispose()
    # a viewer, invited by email
    invited = stack.api.post(
        "/v1/users", json={"email": company.viewer, "role": "viewer"}, headers=owner_auth(stack)
    )
    assert invited.status_code == 201, invited.text
    token = token_in(eventually(lambda: inbox.to(company.viewer), 10)[0])
    accept = {"token": token, "password": VIEWER_PASSWORD}
    assert stack.api.post("/v1/auth/accept-invite", json=accept).status_code == 204
    # TOTP on for the owner, confirmed with the previous step's code so the current one is
    # still unused for the browser's sign-in
    session = owner_auth(stack)
    secret = stack.api.post("/v1/auth/totp", headers=session).json()["secret"]
    previous = previous_code(pyotp.TOTP(secret))
    confirmed = stack.api.post("/v1/auth/totp/confirm", json={"otp": previous}, headers=session)
    assert confirmed.status_code == 204, confirmed.text
    company.totp = secret
    company.last_step = pyotp.TOTP(secret).timecode(datetime.now(UTC)) - 1
    return company


def previous_code(totp: pyotp.TOTP) -> str:
    """The previous step's code, which the server accepts within one step: confirming with it
    leaves the current code unused for a sign-in. Not within 4 s of a step's end, so the step
    does not move on before the server checks it."""
    while 30 - time.time() % 30 < 4:
        time.sleep(0.5)
    return totp.at(datetime.now(UTC), counter_offset=-1)


def owner_auth(stack: Stack, otp: str | None = None) -> dict[str, str]:
    body = {"email": "owner@consoleco.example", "password": PASSWORD, "otp": otp}
    answer = stack.api.post("/v1/auth/login", json=body)
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


@pytest.fixture(scope="module")
def company(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Company]:
    with smtp_server() as (url, inbox):
        # webhooks go to a receiver on 127.0.0.1
        env = {"CLOSECALL_SMTP_URL": url, "CLOSECALL_HOOKS_ALLOW_PRIVATE": "true"}
        for stack in shared_stack(broker, tmp_path_factory, env):
            yield seed(stack, inbox)


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    started = Receiver().start()
    yield started
    started.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Chrome]:
    with chromium() as driver:
        yield driver


def base(company: Company) -> str:
    return str(company.stack.api.base_url).rstrip("/")


def as_owner(browser: WebDriver, company: Company) -> None:
    """Signed in as the owner: kept from an earlier test, else signed in again."""
    browser.get(f"{base(company)}/console/")
    shown = wait_for(browser, "form.sign-in, #nav a")
    if shown.tag_name == "a" and company.owner in browser.find_element(By.ID, "who").text:
        return
    sign_in(browser, base(company), company.owner, PASSWORD, company.code())
    wait_for(browser, "#nav a")


def as_viewer(browser: WebDriver, company: Company) -> None:
    sign_in(browser, base(company), company.viewer, VIEWER_PASSWORD)
    wait_for(browser, "#nav a")


def fetch(browser: WebDriver, path: str, method: str = "GET", body: str | None = None) -> Any:
    """A request from the console's own page, as its script sends it (cookie + CSRF header)."""
    return browser.execute_async_script(
        """const [path, method, body, done] = arguments;
        const csrf = document.cookie.split('; ').find((c) => c.startsWith('cc_csrf='));
        fetch(path, {method, body, headers: {'Content-Type': 'application/json',
                     'X-CSRF-Token': csrf ? csrf.slice(8) : ''}})
          .then(async (r) => done({status: r.status, body: await r.json().catch(() => null)}));""",
        path,
        method,
        body,
    )


def test_sign_in_needs_the_totp_code_and_keeps_the_session_in_a_strict_cookie(
    company: Company, browser: WebDriver
) -> None:
    sign_in(browser, base(company), company.owner, PASSWORD)
    refused = wait_for(browser, "form.sign-in .error")
    eventually(lambda: "6-digit code" in refused.text, 10)  # in words, not the API's code
    assert browser.get_cookie("cc_session") is None

    as_owner(browser, company)
    assert "owner" in browser.find_element(By.ID, "who").text
    session, csrf = browser.get_cookie("cc_session"), browser.get_cookie("cc_csrf")
    assert session is not None and csrf is not None
    assert session["httpOnly"] is True and session["sameSite"] == "Strict"
    assert session["secure"] is True  # outside local mode
    assert csrf["httpOnly"] is False and csrf["sameSite"] == "Strict"
    # the script cannot read the session itself
    assert "cc_session" not in browser.execute_script("return document.cookie")
    # the cookie works on the JSON API for reads; a write without the CSRF header is refused
    me = fetch(browser, "/v1/me")
    assert me["status"] == 200 and me["body"]["user"]["email"] == company.owner
    bare = browser.execute_async_script(
        """const done = arguments[0];
        fetch('/v1/api-keys', {method: 'POST', headers: {'Content-Type': 'application/json'},
              body: JSON.stringify({name: 'no csrf'})})
          .then(async (r) => done({status: r.status, body: await r.json()}));"""
    )
    assert bare["status"] == 403 and bare["body"]["error"]["code"] == "csrf_failed"


def test_dashboard_tiles_equal_the_summary(company: Company, browser: WebDriver) -> None:
    as_owner(browser, company)
    main = open_page(browser, base(company), DASHBOARD)
    summary = company.get("/v1/reports/summary", **RANGE)
    tiles = {
        tile.get_attribute("data-metric"): tile.get_attribute("data-value")
        for tile in main.find_elements(By.CSS_SELECTOR, ".tile")
    }
    wanted = [
        "total_calls",
        "connected",
        "talk_time_s",
        "unique_clients",
        "never_attended",
        "not_picked_up",
        "working_s",
    ]
    assert list(tiles) == wanted
    assert {name: int(value) for name, value in tiles.items()} == {n: summary[n] for n in wanted}
    assert summary["total_calls"] > 700 and summary["never_attended"] >= len(UNATTENDED)
    # two charts drawn by the library, with their numbers as tables
    charts = browser.execute_script(
        "return [...document.querySelectorAll('canvas')].map((c) => Chart.getChart(c) ? "
        "Chart.getChart(c).data.datasets.reduce((n, d) => n + d.data.reduce((a, b) => a + b, 0), 0)"
        " : null)"
    )
    assert charts == [summary["total_calls"], summary["total_calls"]]
    # the employees table equals the report and sorts by a column
    report = company.get("/v1/reports/employees", **RANGE)["items"]
    rows = main.find_elements(By.CSS_SELECTOR, "table caption + thead + tbody tr")
    assert len(rows) == len(report)
    header = main.find_element(By.XPATH, "//th[button[text()='Calls']]")
    header.find_element(By.TAG_NAME, "button").click()
    assert header.get_attribute("aria-sort") == "descending"
    first = main.find_element(By.CSS_SELECTOR, "table caption + thead + tbody tr td").text
    busiest = max(report, key=lambda row: row["total_calls"])
    assert first == busiest["name"]
    # a team filter gives that team's numbers
    Select(main.find_element(By.NAME, "team")).select_by_visible_text("North")
    rendered = main.get_attribute("data-render")
    main.find_element(By.CSS_SELECTOR, "form.filters button[type=submit]").click()
    main = rerendered(browser, rendered)
    assert "team=North" in browser.current_url
    north = [e["id"] for e in company.get("/v1/employees")["items"] if e["team"] == "North"]
    team = company.get("/v1/reports/summary", **RANGE, employee_id=north)
    shown = main.find_element(By.CSS_SELECTOR, ".tile[data-metric=total_calls]")
    assert int(shown.get_attribute("data-value")) == team["total_calls"] < summary["total_calls"]


@pytest.mark.parametrize("page", [PAGES[1], PAGES[12]])  # never attended, customers
def test_a_reveal_is_audited(company: Company, browser: WebDriver, page: str) -> None:
    as_owner(browser, company)
    main = open_page(browser, base(company), page)
    assert main.find_elements(By.CSS_SELECTOR, "a[href^='tel:']") == []
    masked = [cell.text for cell in main.find_elements(By.CSS_SELECTOR, "td[data-label=Number]")]
    assert masked and all("*" in number for number in masked), main.text[:500]
    before = company.get("/v1/audit")["items"]
    main.find_element(By.CSS_SELECTOR, "button.reveal").click()
    links = eventually(lambda: main.find_elements(By.CSS_SELECTOR, "a[href^='tel:+91']"), 10)
    assert len(links) == len(masked)
    assert {f"+91{n}" for n in UNATTENDED} <= {link.text for link in links}
    entries = [e for e in company.get("/v1/audit")["items"] if e not in before]
    assert [(e["action"], e["target"]) for e in entries] == [
        ("numbers.revealed", f"/v1/reports/{page.split('?')[0]}")
    ]
    assert entries[0]["details"]["count"] == len(links)
    assert entries[0]["actor"]["type"] == "user"


def test_a_csv_import_is_checked_before_anything_is_written(
    company: Company, browser: WebDriver
) -> None:
    as_owner(browser, company)
    main = open_page(browser, base(company), "leads")
    csv = (
        "name,phone,email\n"
        "Meera Shah,98450 12345,meera@example.com\n"
        "No Number,,nobody@example.com\n"
        "Karan Mehta,+91 98450 22222,karan@example.com\n"
        "Bad Mail,9845033333,not-an-email\n"
        "Lata Iyer,098450 44444,lata@example.com\n"
    )
    main.find_element(By.NAME, "csv").send_keys(csv)
    confirm = main.find_element(By.CSS_SELECTOR, "button.confirm-import")
    assert not confirm.is_enabled()
    main.find_element(By.CSS_SELECTOR, "form.import button[type=submit]").click()
    counts = wait_for(browser, ".import-result .counts")
    assert counts.text.startswith("Would create 3")
    rows = main.find_elements(By.CSS_SELECTOR, ".import-result td[data-label=Row]")
    assert [row.text for row in rows] == ["2", "4"]
    problems = main.find_elements(By.CSS_SELECTOR, ".import-result td[data-label=Problems]")
    assert "number" in problems[0].text and "email" in problems[1].text
    assert company.get("/v1/leads")["items"] == []  # the dry run wrote nothing

    confirm.click()
    done = eventually(lambda: text_of(browser, ".import-result .counts").startswith("Created"), 10)
    assert done and text_of(browser, ".import-result .counts").startswith("Created 3")
    leads = eventually(lambda: company.get("/v1/leads")["items"], 10)
    assert sorted(lead["primary_number"] for lead in leads) == [
        "+919845012345",
        "+919845022222",
        "+919845044444",
    ]
    # assignment from the list
    main = open_page(browser, base(company), "leads")
    staff = {e["name"]: e["id"] for e in company.get("/v1/employees")["items"]}
    first = main.find_element(By.CSS_SELECTOR, "td[data-label=Employee] select")
    Select(first).select_by_visible_text("Ravi Kumar")
    wanted = staff["Ravi Kumar"]
    eventually(
        lambda: wanted in [lead["employee_id"] for lead in company.get("/v1/leads")["items"]]
    )


def test_devices_show_stale_phones_and_the_sync_answer(
    company: Company, browser: WebDriver
) -> None:
    as_owner(browser, company)
    main = open_page(browser, base(company), "devices")
    stale = main.find_elements(By.CSS_SELECTOR, "tr.stale td[data-label=Employee]")
    assert [cell.text for cell in stale] == ["Old Phone"]
    assert "1 stale" in main.text
    # without FCM (this stack has no credentials) Sync now cannot work: no button, a reason
    assert not main.find_elements(By.CSS_SELECTOR, "button.sync")
    assert "needs push messages (FCM)" in main.text


def test_a_webhook_is_created_its_deliveries_logged_and_one_sent_again(
    company: Company, browser: WebDriver, receiver: Receiver
) -> None:
    as_owner(browser, company)
    main = open_page(browser, base(company), "hooks")
    Select(main.find_element(By.NAME, "event")).select_by_value("call.missed")
    main.find_element(By.NAME, "target_url").send_keys(receiver.url("/missed"))
    main.find_element(By.CSS_SELECTOR, "form.create button[type=submit]").click()
    secret = wait_for(browser, ".secret code")
    assert secret.text.startswith("whsec_")
    hook = company.get("/v1/hooks")["items"][0]
    assert (hook["event"], hook["target_url"]) == ("call.missed", receiver.url("/missed"))

    missed = one_call("w1", "9000000031", "missed", 11) | {
        "started_at": "2026-03-10T11:00:00+05:30"
    }
    assert upload(company.stack, company.token, [missed]).is_success
    first = eventually(lambda: receiver.received("/missed"), 60)[0]
    main = open_page(browser, base(company), "hooks")
    main.find_element(By.XPATH, "//button[text()='Delivery log']").click()
    answer = eventually(lambda: text_of(browser, "td[data-label=Answer]"), 10)
    assert answer == "200"
    browser.find_element(By.CSS_SELECTOR, "td[data-label=Redeliver] button").click()
    eventually(lambda: "Scheduled again" in text_of(browser, "#status"), 10)
    again = eventually(lambda: receiver.received("/missed")[1:], 60)[0]
    assert again.webhook_id == first.webhook_id


def test_a_viewer_sees_no_control_it_may_not_use_and_is_refused_anyway(
    company: Company, browser: WebDriver
) -> None:
    as_viewer(browser, company)
    nav = [a.get_attribute("data-page") for a in browser.find_elements(By.CSS_SELECTOR, "#nav a")]
    assert "privacy" not in nav and "hooks" not in nav and "access" not in nav
    main = open_page(browser, base(company), PAGES[1])
    assert main.find_elements(By.CSS_SELECTOR, "td[data-label=Number]")
    assert main.find_elements(By.CSS_SELECTOR, "button.reveal") == []
    main = open_page(browser, base(company), "leads")
    assert main.find_elements(By.CSS_SELECTOR, "form.import") == []
    assert main.find_elements(By.CSS_SELECTOR, "td[data-label=Employee] select") == []
    main = open_page(browser, base(company), "privacy")
    assert main.find_elements(By.CSS_SELECTOR, "form.erase") == []
    assert "needs the owner role" in main.text
    # posting what those forms post, from the viewer's own session, with the CSRF token
    reveal = fetch(browser, "/v1/reports/never-attended?from=2026-03-02&to=2026-03-04&reveal=true")
    imported = fetch(browser, "/v1/leads/import?dry_run=false", "POST", '[{"first_name": "X"}]')
    erased = fetch(browser, "/v1/privacy/erasures", "POST", '{"number": "+919000000011"}')
    for answer in (reveal, imported, erased):
        assert answer["status"] == 403, answer
        assert answer["body"]["error"]["code"] == "forbidden"
    assert len(company.get("/v1/leads")["items"]) == 3


def test_a_lead_is_opened_edited_followed_up_and_deleted(
    company: Company, browser: Chrome, tmp_path_factory: pytest.TempPathFactory
) -> None:
    spec = {"key": "stage", "label": "Stage", "kind": "choice", "choices": ["Cold", "Hot"]}
    declared = company.stack.api.post("/v1/lead-fields", json=spec, headers=company.auth)
    assert declared.status_code == 201, declared.text
    made = company.stack.api.post(
        "/v1/leads",
        json={"first_name": "Nila", "primary_number": UNATTENDED[0], "custom": {"stage": "cold"}},
        headers=company.auth,
    )
    assert made.status_code == 201, made.text
    lead = made.json()
    try:
        as_owner(browser, company)
        main = open_page(browser, base(company), "leads")
        main.find_element(By.LINK_TEXT, "Nila").click()
        main = wait_for(browser, "main[data-page=lead][data-ready=true]")
        assert main.find_element(By.NAME, "first_name").get_attribute("value") == "Nila"
        assert (
            Select(main.find_element(By.NAME, "custom.stage")).first_selected_option.text == "Cold"
        )
        calls = main.find_elements(By.CSS_SELECTOR, "td[data-label=Type]")
        assert [c.text for c in calls] == ["missed"]  # the seeded missed call of this client
        # edited: only what changed goes; the history names it
        main.find_element(By.NAME, "company").send_keys("Acme")
        Select(main.find_element(By.NAME, "custom.stage")).select_by_visible_text("Hot")
        rendered = main.get_attribute("data-render")
        main.find_element(By.CSS_SELECTOR, "form.lead-form button[type=submit]").click()
        main = rerendered(browser, rendered)
        stored = company.get(f"/v1/leads/{lead['id']}")
        assert (stored["company"], stored["custom"]) == ("Acme", {"stage": "Hot"})
        assert [c["fields"] for c in stored["history"] if c["kind"] == "edited"] == [
            ["company", "custom"]
        ]
        shown = [td.text for td in main.find_elements(By.CSS_SELECTOR, "td[data-label=What]")]
        assert shown[:2] == ["First call (attempted)", "Created"] and "Edited" in shown
        # a follow-up at a wall-clock time of the company: the instant in its zone
        main.find_element(By.NAME, "due_at").send_keys("2026-03-02 10:00")
        main.find_element(By.NAME, "note").send_keys("send the brochure")
        rendered = main.get_attribute("data-render")
        main.find_element(By.CSS_SELECTOR, "form[aria-label='New follow-up'] button").click()
        main = rerendered(browser, rendered)
        (followup,) = company.get("/v1/followups", lead_id=lead["id"])["items"]
        assert followup["due_at"] == "2026-03-02T10:00:00+05:30"
        browser.save_screenshot(str(screenshot_dir(tmp_path_factory) / "lead.png"))
        # overdue on the dashboard, closed there
        main = open_page(browser, base(company), DASHBOARD)
        row = main.find_element(By.XPATH, "//section[@class='overdue']//tr[td]")
        assert "send the brochure" in row.text and "2026-03-02 10:00" in row.text
        row.find_element(By.CSS_SELECTOR, "button.done").click()
        closed = eventually(lambda: company.get("/v1/followups", status="done")["items"], 10)
        assert [f["id"] for f in closed] == [followup["id"]]
    finally:
        # deleted from its page (the browser's confirmation accepted): the list is as before
        main = open_page(browser, base(company), f"lead?id={lead['id']}")
        browser.execute_script("window.confirm = () => true;")
        main.find_element(By.CSS_SELECTOR, "button.danger").click()
        eventually(lambda: browser.current_url.endswith("#/leads"), 10)
        gone = company.stack.api.get(f"/v1/leads/{lead['id']}", headers=company.auth)
        assert gone.status_code == 404
        company.stack.api.delete("/v1/lead-fields/stage", headers=company.auth)


class AttackerPage(http.server.BaseHTTPRequestHandler):
    """Another site's page that posts a form to the console's API as soon as it loads."""

    target = ""

    def do_GET(self) -> None:
        page = f"""<!doctype html><html><body>
        <form id="f" method="POST" action="{self.target}/v1/api-keys" enctype="text/plain">
          <input name='{{"name": "stolen", "x": "' value='"}}'>
        </form><script>document.getElementById('f').submit()</script></body></html>"""
        body = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_args: Any) -> None:
        pass


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_form_posted_from_another_site_is_refused(
    company: Company, browser: WebDriver, host: str
) -> None:
    """127.0.0.1 on another port is the same site (the cookie goes along; the CSRF token
    refuses it); localhost is another site (SameSite=Strict keeps the cookie home)."""
    as_owner(browser, company)
    keys_before = company.get("/v1/api-keys")["items"]
    port = free_port()
    handler = type("Page", (AttackerPage,), {"target": base(company)})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        browser.get(f"http://{host}:{port}/")
        expected = {"127.0.0.1": '"csrf_failed"', "localhost": '"unauthenticated"'}[host]
        eventually(lambda: expected in browser.page_source, 10)
    finally:
        server.shutdown()
        server.server_close()
    assert company.get("/v1/api-keys")["items"] == keys_before


def test_every_page_is_light_labelled_fits_a_phone_and_is_photographed(
    company: Company, browser: Chrome, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shots = screenshot_dir(tmp_path_factory)
    as_owner(browser, company)
    for page in PAGES:
        name = page.split("?")[0]
        browser.execute_script("performance.clearResourceTimings()")
        browser.get("about:blank")
        main = open_page(browser, base(company), page)
        settle()
        weight = browser.execute_script(
            """const entries = [performance.getEntriesByType('navigation')[0],
                               ...performance.getEntriesByType('resource')];
            return entries.filter((e) => !new URL(e.name).pathname.startsWith('/v1/'))
                          .reduce((n, e) => n + e.decodedBodySize, 0);"""
        )
        assert 0 < weight < PAGE_WEIGHT_LIMIT, (name, weight)
        unlabelled = browser.execute_script(
            """return [...document.querySelectorAll('main input, main select, main textarea')]
                .filter((c) => c.type !== 'hidden' && !c.labels.length && !c.getAttribute('aria-label'))
                .map((c) => c.name);"""
        )
        assert unlabelled == [], (name, unlabelled)
        assert main.find_elements(By.TAG_NAME, "h1"), name
        shown = [e.text for e in main.find_elements(By.CSS_SELECTOR, ".error") if e.text]
        assert shown == [], (name, shown)  # every page renders its answer, not an error
        refused = [e["message"] for e in browser.get_log("browser") if "Refused to" in e["message"]]
        assert refused == [], (name, refused)  # nothing the Content-Security-Policy blocked
        browser.save_screenshot(str(shots / f"{name}.png"))
    browser.set_window_size(*PHONE)
    try:
        for page in (DASHBOARD, "devices", "leads", *PAGES[-5:]):
            open_page(browser, base(company), page)
            settle()
            overflow = browser.execute_script(
                "return document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, (page, overflow)
            browser.save_screenshot(str(shots / f"{page.split('?')[0]}-phone.png"))
    finally:
        browser.set_window_size(1280, 900)


# The page's reads answered only after a delay, so a sign-out lands while the page still loads
HELD_ANSWERS = """window.held = 0;
const send = window.fetch;
window.fetch = async (...request) => {
  if ((request[1] || {}).method !== 'GET') return send(...request);
  window.held += 1;
  try {
    const answer = await send(...request);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    return answer;
  } finally {
    window.held -= 1;
  }
};"""


def test_sign_out_ends_the_session(company: Company, browser: WebDriver) -> None:
    as_owner(browser, company)
    token = browser.get_cookie("cc_session")
    assert token is not None
    browser.execute_script(HELD_ANSWERS)
    browser.execute_script("location.hash = '#/dashboard?held=1'")
    eventually(lambda: browser.execute_script("return window.held") > 0, 10)
    browser.find_element(By.ID, "sign-out").click()
    wait_for(browser, "form.sign-in")
    # the page that was loading answers after the sign-out and must not replace the form
    eventually(lambda: browser.execute_script("return window.held") == 0, 20)
    assert browser.find_elements(By.CSS_SELECTOR, "form.sign-in")
    assert browser.find_element(By.ID, "top").get_attribute("hidden") is not None
    assert browser.get_cookie("cc_session") is None
    revoked = company.stack.api.get("/v1/me", cookies={"cc_session": token["value"]})
    assert revoked.status_code == 401


def test_an_erasure_requested_in_the_console_is_followed_until_done(
    company: Company, browser: WebDriver
) -> None:
    as_owner(browser, company)
    erased = UNATTENDED[0]
    main = open_page(browser, base(company), "privacy")
    main.find_element(By.NAME, "number").send_keys(f"+91 {erased}")
    main.find_element(By.NAME, "sure").click()
    main.find_element(By.CSS_SELECTOR, "form.erase button[type=submit]").click()
    wait_for(browser, ".erasure[data-status=pending], .erasure[data-status=done]")
    listed = company.get("/v1/reports/never-attended", **RANGE)["items"]
    assert not any(item["number"].endswith(erased[-4:]) for item in listed)  # hidden at once
    done = eventually(lambda: text_of(browser, ".erasure[data-status=done]"), 120)
    assert "calls 1" in done
    # its time as the API's instant in the company's zone (+05:30)
    erasure_id = re.search(r"Erasure (\S+):", done)
    assert erasure_id, done
    found = fetch(browser, f"/v1/privacy/erasures/{erasure_id.group(1)}")["body"]
    assert f"at {local(found['done_at'], 'Asia/Kolkata')};" in done


def test_a_user_turns_two_factor_sign_in_on_and_then_needs_it(
    company: Company, browser: WebDriver
) -> None:
    as_viewer(browser, company)
    main = open_page(browser, base(company), "account")
    assert main.find_element(By.CSS_SELECTOR, ".totp-state").get_attribute("data-on") == "false"
    main.find_element(By.CSS_SELECTOR, "button.totp-start").click()
    secret = wait_for(browser, ".totp-secret").text
    totp = pyotp.TOTP(secret)
    previous = previous_code(totp)
    browser.find_element(By.CSS_SELECTOR, "form.totp input[name=otp]").send_keys(previous)
    browser.find_element(By.CSS_SELECTOR, "form.totp button[type=submit]").click()
    eventually(lambda: browser.find_elements(By.CSS_SELECTOR, ".totp-state[data-on=true]"), 10)
    assert fetch(browser, "/v1/me")["body"]["user"]["totp"] is True

    browser.find_element(By.ID, "sign-out").click()
    sign_in(browser, base(company), company.viewer, VIEWER_PASSWORD)
    refused = wait_for(browser, "form.sign-in .error")
    eventually(lambda: "6-digit code" in refused.text, 10)  # in words, not the API's code
    sign_in(browser, base(company), company.viewer, VIEWER_PASSWORD, totp.now())
    wait_for(browser, "#nav a")
    assert company.viewer in browser.find_element(By.ID, "who").text


# ---- onboarding: from an invitation to a phone's calls on the dashboard, without curl ----

MANAGER = "meera.manager@consoleco.example"
MANAGER_PASSWORD = "a manager's long passphrase"


def mailed_link(company: Company, to: str, count: int, page: str) -> str:
    """The link of the `count`-th mail to `to` (as a person would click it)."""
    message = eventually(lambda: company.inbox.to(to)[count - 1 :], 20)[0]
    found = re.search(rf"(http\S+/console/{page}#token=\S+)", message.get_content())
    assert found, message.get_content()
    return found.group(1)


def set_password(browser: WebDriver, link: str, password: str) -> None:
    browser.get(link)
    form = wait_for(browser, "form.set-password")
    assert "token" not in browser.current_url  # taken out of the address bar at once
    form.find_element(By.NAME, "password").send_keys(password)
    form.find_element(By.NAME, "password_again").send_keys(password)
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def qr_text(element: Any) -> str:
    """What a phone's camera reads from the QR code as the page draws it (zxing-cpp)."""
    element.parent.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    shot = element.screenshot_as_png
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(shot)))
    if len(found) != 1:
        Path("/tmp/qr-unread.png").write_bytes(shot)
    assert len(found) == 1, found
    return str(found[0].text)


def test_onboarding_invite_accept_enrol_a_phone_by_its_qr_code_and_reset_a_password(
    company: Company, browser: WebDriver, tmp_path_factory: pytest.TempPathFactory
) -> None:
    shots = screenshot_dir(tmp_path_factory)
    as_owner(browser, company)
    main = open_page(browser, base(company), "access")
    form = main.find_element(By.CSS_SELECTOR, "form.create[aria-labelledby=user-title]")
    form.find_element(By.NAME, "email").send_keys(MANAGER)
    Select(form.find_element(By.NAME, "role")).select_by_value("manager")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    link = mailed_link(company, MANAGER, 1, "accept-invite")

    # the manager opens the mailed link, sets a password and is signed in
    browser.delete_all_cookies()
    set_password(browser, link, MANAGER_PASSWORD)
    welcome = wait_for(browser, "p.welcome")
    assert "password is set" in welcome.text
    assert MANAGER in browser.find_element(By.ID, "who").text
    browser.save_screenshot(str(shots / "welcome.png"))
    browser.get(link)  # the same link again: used, and the page says so
    dead = wait_for(browser, "[data-state=dead]")
    assert "used already" in dead.text
    browser.save_screenshot(str(shots / "link-used.png"))

    # the owner adds an employee and enrols a phone from the QR code on the page
    as_owner(browser, company)
    main = open_page(browser, base(company), "employees")
    form = main.find_element(By.CSS_SELECTOR, "form.employee-form")
    form.find_element(By.NAME, "name").send_keys("Nikhil Bose")
    form.find_element(By.NAME, "team").send_keys("North")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait_for(browser, "button.enrol").click()
    qr = wait_for(browser, "img.qr")
    eventually(lambda: browser.execute_script("return arguments[0].naturalWidth", qr) > 0, 10)
    uri = urlsplit(qr_text(qr))
    query = parse_qs(uri.query)
    assert uri.scheme == "closecall" and query["server"] == [
        str(company.stack.ingest.base_url).rstrip("/")
    ]
    assert query["code"] == [browser.find_element(By.CSS_SELECTOR, ".enrol-text").text]
    browser.save_screenshot(str(shots / "enrol-a-phone.png"))
    device = {"device_id": "hw-nikhil", "brand": "Xiaomi", "model": "Redmi 13", "sdk_int": 34}
    enrolled = httpx.post(
        f"{query['server'][0]}/v1/devices/enroll", json={"code": query["code"][0], "device": device}
    )
    assert enrolled.status_code == 201, enrolled.text
    token = enrolled.json()["device_token"]
    today = datetime.now(ZoneInfo("Asia/Kolkata")).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    calls = [
        {
            "id": f"nb{i}",
            "number": f"98100{i:05d}",
            "type": "outgoing",
            "duration_s": 60 + i,
            "started_at": (today + timedelta(minutes=7 * i)).isoformat(),
        }
        for i in range(6)
    ]
    assert upload(company.stack, token, calls).is_success
    employee_id = enrolled.json()["employee_id"]

    def stored() -> bool:
        rows = company.get("/v1/reports/employees", employee_id=employee_id)["items"]
        return bool(rows) and rows[0]["total_calls"] == len(calls)

    eventually(stored, 60)
    browser.get("about:blank")
    main = open_page(browser, base(company), "dashboard")
    row = main.find_element(By.XPATH, "//tr[td[@data-label='Employee'][text()='Nikhil Bose']]")
    assert row.find_element(By.CSS_SELECTOR, "td[data-label=Calls]").text == "6"
    main = open_page(browser, base(company), f"employees?id={employee_id}")
    phones = main.find_elements(By.CSS_SELECTOR, "td[data-label=Phone]")
    assert [cell.text for cell in phones] == ["Xiaomi Redmi 13"]
    browser.save_screenshot(str(shots / "employee.png"))

    # a password reset through the mailed link, then a sign-in with the new password
    browser.find_element(By.ID, "sign-out").click()
    wait_for(browser, "a.forgot-link").click()
    forgot = wait_for(browser, "form.forgot")
    forgot.find_element(By.NAME, "email").send_keys(MANAGER)
    forgot.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    eventually(lambda: "on its way" in text_of(browser, "form.forgot [role=status]"), 10)
    browser.save_screenshot(str(shots / "forgot-password.png"))
    browser.set_window_size(*PHONE)
    try:
        browser.save_screenshot(str(shots / "forgot-password-phone.png"))
    finally:
        browser.set_window_size(1280, 900)
    link = mailed_link(company, MANAGER, 2, "reset-password")
    set_password(browser, link, MANAGER_PASSWORD + " renewed")
    refused = wait_for(browser, "form.sign-in .error")
    assert "password is changed" in refused.text
    browser.find_element(By.NAME, "password").send_keys(MANAGER_PASSWORD + " renewed")
    browser.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()
    wait_for(browser, "#nav a")
    assert MANAGER in browser.find_element(By.ID, "who").text


def local(iso: str | None, zone: str) -> str:
    if not iso:
        return "—"
    return datetime.fromisoformat(iso).astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


@pytest.mark.parametrize("zone", ["Asia/Kolkata", "America/Sao_Paulo"])  # +05:30, -03:00
def test_every_time_shown_is_the_apis_instant_in_the_companys_zone(
    company: Company, browser: WebDriver, zone: str
) -> None:
    as_owner(browser, company)  # the owner's session in the browser: no second TOTP code
    changed = fetch(browser, "/v1/company", "PATCH", json.dumps({"timezone": zone}))
    assert changed["status"] == 200, changed
    users_since = [u["created_at"] for u in fetch(browser, "/v1/users")["body"]["items"]]
    browser.get("about:blank")  # the next page loads the console again: the new zone
    try:
        api_times = {
            ("devices", "Last seen"): [
                d["last_seen_at"] for d in company.get("/v1/devices")["items"]
            ],
            ("access", "Since"): users_since,
            ("access", "Created"): [k["created_at"] for k in company.get("/v1/api-keys")["items"]],
        }
        for (page, column), instants in api_times.items():
            main = open_page(browser, base(company), page)
            assert zone in main.find_element(By.CSS_SELECTOR, "p.zone").text
            cells = main.find_elements(By.CSS_SELECTOR, f"td[data-label='{column}']")
            assert sorted(c.text for c in cells) == sorted(local(i, zone) for i in instants), page
        main = open_page(browser, base(company), "company")
        shown_zone = Select(main.find_element(By.NAME, "timezone")).first_selected_option
        assert shown_zone.get_attribute("value") == zone  # saving the form keeps the zone
        hook = company.get("/v1/hooks")["items"][0]
        logged = company.get(f"/v1/hooks/{hook['id']}/deliveries")["items"]
        main = open_page(browser, base(company), "hooks")
        main.find_element(By.XPATH, "//button[text()='Delivery log']").click()
        eventually(lambda: text_of(browser, "td[data-label=At]"), 10)
        cells = browser.find_elements(By.CSS_SELECTOR, "td[data-label=At]")
        assert sorted(c.text for c in cells) == sorted(local(d["at"], zone) for d in logged)
    finally:
        browser.get(f"{base(company)}/console/")
        fetch(browser, "/v1/company", "PATCH", json.dumps({"timezone": "Asia/Kolkata"}))


ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d")


def same_cell(shown: Any, written: Any) -> bool:
    """A file's cell says what the JSON said: the same text (a formula-looking one behind a
    CSV's leading '), number or truth value, a time the same instant (in the company's zone)."""
    if shown == "":
        return written in ("", None)  # a spreadsheet keeps no empty text
    if isinstance(shown, str) and ISO_TIME.match(shown):
        return bool(datetime.fromisoformat(str(written)) == datetime.fromisoformat(shown))
    return bool(written == shown)


def test_downloads_equal_the_json_and_a_formula_arrives_as_text(company: Company) -> None:
    hostile = '=HYPERLINK("http://evil.example","click")'
    call = one_call("x1", "9000000041", "missed", 12) | {"name": hostile}
    assert upload(company.stack, company.token, [call]).is_success
    params = {"from": "2026-03-02", "to": "2026-03-04"}

    def customer_names() -> list[str]:
        return [c["name"] for c in company.get("/v1/reports/customers", **params)["items"]]

    eventually(lambda: hostile in customer_names(), 60)
    for path in ("/v1/reports/customers", "/v1/reports/employees", "/v1/calls", "/v1/devices"):
        shown = company.get(path, **params)["items"]
        files = {
            kind: company.stack.api.get(
                path, params={**params, "format": kind}, headers=company.auth
            )
            for kind in ("csv", "xlsx")
        }
        assert files["csv"].headers["content-type"].startswith("text/csv")
        assert "attachment" in files["xlsx"].headers["content-disposition"]
        as_csv = list(csv.DictReader(io.StringIO(files["csv"].content.decode("utf-8-sig"))))
        header, *values = openpyxl.load_workbook(io.BytesIO(files["xlsx"].content)).active.values
        as_xlsx = [dict(zip(header, row, strict=True)) for row in values]
        assert len(as_csv) == len(as_xlsx) == len(shown) > 0, path
        for item, text_row, book_row in zip(shown, as_csv, as_xlsx, strict=True):
            for name, value in item.items():
                if value is None or isinstance(value, dict | list):
                    continue
                assert same_cell(value, book_row[name]), (path, name, value, book_row[name])
                assert same_cell(str(neutral(value)), text_row[name]), (path, name, value)

    customers = {
        kind: company.stack.api.get(
            "/v1/reports/customers", params={**params, "format": kind}, headers=company.auth
        ).content
        for kind in ("csv", "xlsx")
    }
    assert "'" + hostile in customers["csv"].decode("utf-8-sig").replace('""', '"')
    sheet = openpyxl.load_workbook(io.BytesIO(customers["xlsx"])).active
    found = [cell for row in sheet.iter_rows() for cell in row if cell.value == hostile]
    assert [cell.data_type for cell in found] == ["s"]  # a text cell, never a formula
