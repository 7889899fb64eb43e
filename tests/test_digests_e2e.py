"""Digests through the real worker and a real SMTP server (aiosmtpd), the worker's clock moved
through a file (CLOSECALL_CLOCK_FILE) instead of slept: two owners in different zones and a
team-limited manager each get exactly one daily digest at their local 08:00, across a server
that answers 451 once and a worker killed in the middle of a send; the figures are the
reports' for the same day and scope; one-click unsubscribe stops the next one."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from email.message import EmailMessage, Message
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from core.calls.phone_numbers import mask_number
from core.mail import FIRST_RETRY, LEASE
from core.notices.digests import duration
from tests.conftest import StackFactory
from tests.support.browser import PHONE, chromium, screenshot_dir
from tests.support.services import Broker
from tests.support.smtp import Inbox, smtp_server
from tests.support.stack import Stack, eventually, owner_token
from tests.test_pipeline_e2e import upload
from tests.test_sign_in import bearer

# The digests go on the morning of tomorrow (UTC) and cover today: the worker's clock runs ahead
# of the real one, so what the API queues at the real time is due for it, and today's calls are
# within ingest's future skew.
SENT_ON = (datetime.now(UTC) + timedelta(days=1)).date()
DAY = datetime.combine(SENT_ON - timedelta(days=1), time())  # local, in each company's zone
MUMBAI, NEW_YORK = ZoneInfo("Asia/Kolkata"), ZoneInfo("America/New_York")
MUMBAI_0800 = datetime.combine(SENT_ON, time(8), MUMBAI).astimezone(UTC)
NEW_YORK_0800 = datetime.combine(SENT_ON, time(8), NEW_YORK).astimezone(UTC)


class Clock:
    def __init__(self, path: Path) -> None:
        self.path = path

    def set(self, at: datetime) -> None:
        self.path.write_text(at.isoformat())


@pytest.fixture
def digest_stack(
    make_stack: StackFactory, broker: Broker, tmp_path: Path
) -> Iterator[tuple[Stack, Inbox, Clock]]:
    clock = Clock(tmp_path / "clock")
    clock.set(MUMBAI_0800 - timedelta(hours=2))
    env = {
        "CLOSECALL_CLOCK_FILE": str(clock.path),
        "CLOSECALL_DIGESTS_ENABLED": "true",
        "CLOSECALL_DIGEST_INTERVAL_S": "0.3",
        "CLOSECALL_MAIL_INTERVAL_S": "0.3",
    }
    with smtp_server() as (url, inbox):
        yield make_stack(broker.bootstrap, env={**env, "CLOSECALL_SMTP_URL": url}), inbox, clock


def employee_with_calls(
    stack: Stack, key: str, name: str, team: str, calls: list[dict[str, Any]], email: str = ""
) -> str:
    """The employee's id, once their phone uploaded `calls`."""
    auth = bearer(key)
    body = {"name": name, "team": team, **({"email": email} if email else {})}
    employee = stack.api.post("/v1/employees", json=body, headers=auth)
    code = stack.api.post(f"/v1/employees/{employee.json()['id']}/enrollment-codes", headers=auth)
    device = {"device_id": f"hw-{name}", "brand": "Samsung", "model": "A54", "sdk_int": 34}
    enrolled = stack.ingest.post(
        "/v1/devices/enroll", json={"code": code.json()["code"], "device": device}
    )
    assert upload(stack, enrolled.json()["device_token"], calls).status_code == 202
    return str(employee.json()["id"])


def local_calls(prefix: str, zone: ZoneInfo, numbers: list[str]) -> list[dict[str, Any]]:
    """On DAY (local), a mix: connected, missed never attended, an outgoing not picked up."""
    start = DAY.replace(tzinfo=zone)
    calls = []
    for i, number in enumerate(numbers):
        kind, duration_s = [("incoming", 120), ("missed", 0), ("outgoing", 0)][i % 3]
        at = (start + timedelta(hours=9, minutes=17 * i)).astimezone(UTC)
        calls.append(
            {
                "id": f"{prefix}-{i}",
                "number": number,
                "type": kind,
                "started_at": at.isoformat(),
                "duration_s": duration_s,
            }
        )
    return calls


def digests_to(inbox: Inbox, address: str) -> list[Message]:
    return [m for m in inbox.to(address) if "calls of" in str(m["Subject"])]


def text_of(message: Message) -> str:
    assert isinstance(message, EmailMessage)
    part = message.get_body(("plain",))
    assert part is not None and isinstance(part, EmailMessage)
    return str(part.get_content())


def tile(text: str, label: str) -> str:
    found = re.search(rf"^{label}\s+(\d+(?: h \d+ min| min \d+ s)?)", text, re.M)
    assert found, (label, text)
    return found.group(1)


def assert_figures_are_the_reports(
    stack: Stack, token: str, message: Message, employee_id: str | None = None
) -> None:
    text = text_of(message)
    day = DAY.date().isoformat()
    params = {"from": day, "to": day, **({"employee_id": employee_id} if employee_id else {})}
    summary = stack.api.get("/v1/reports/summary", params=params, headers=bearer(token)).json()
    assert int(tile(text, "Calls")) == summary["total_calls"] > 0
    assert int(tile(text, "Connected")) == summary["connected"]
    assert int(tile(text, "Missed")) == summary["missed"]
    assert int(tile(text, "Clients")) == summary["unique_clients"]
    assert int(tile(text, "Never attended")) == summary["never_attended"]
    assert int(tile(text, "Not picked up")) == summary["not_picked_up"]
    assert tile(text, "Working time") == duration(summary["working_s"])
    never = stack.api.get(
        "/v1/reports/never-attended", params={**params, "limit": 10}, headers=bearer(token)
    ).json()["items"]
    listed = re.findall(r"^  (\S+)(?: [^:]*)?: (\d+) missed", text, re.M)
    assert listed == [(item["number"], str(item["missed_count"])) for item in never]
    assert all("*" in number or "x" in number.lower() for number, _ in listed)  # masked


def overdue_in(message: Message) -> list[tuple[str, str]]:
    """(number, employee) of each overdue follow-up the digest lists."""
    text = text_of(message)
    assert "send the quote" in text
    return re.findall(r"^  (\S+): due [^,]+, [\d:]+, (\w+)", text, re.M)


def photographed(message: Message, shots: Path) -> None:
    """The HTML part in Chromium at a phone's width: nothing fetched from elsewhere, nothing
    wider than the screen; saved as digest.png (CONSOLE_SCREENSHOTS=docs/console for the
    README's)."""
    assert isinstance(message, EmailMessage)
    part = message.get_body(("html",))
    assert isinstance(part, EmailMessage)
    page = shots / "digest.html"
    page.write_text(str(part.get_content()))
    with chromium() as browser:
        browser.set_window_size(*PHONE)
        browser.get(page.resolve().as_uri())
        width, inner, fetched = browser.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth,"
            " performance.getEntriesByType('resource').length]"
        )
        assert width <= inner and fetched == 0
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(PHONE[0], height + 200)  # the window's frame beside the page
        browser.save_screenshot(str(shots / "digest.png"))
    page.unlink()


def test_one_digest_each_at_local_eight_with_the_reports_figures(
    digest_stack: tuple[Stack, Inbox, Clock], tmp_path_factory: pytest.TempPathFactory
) -> None:
    stack, inbox, clock = digest_stack
    mumbai = stack.signup("Mumbai", plan="basic_lead")
    new_york = stack.signup("Gotham", country="US")
    asha = employee_with_calls(
        stack,
        mumbai["api_key"],
        "Asha",
        "North",
        local_calls("a", MUMBAI, [f"98200000{i:02d}" for i in range(9)]),
        email="asha@mumbai.example",
    )
    vikram = employee_with_calls(
        stack,
        mumbai["api_key"],
        "Vikram",
        "South",
        local_calls("v", MUMBAI, [f"98300000{i:02d}" for i in range(6)]),
    )
    employee_with_calls(
        stack,
        new_york["api_key"],
        "Bruce",
        "East",
        local_calls("b", NEW_YORK, [f"91600000{i:02d}" for i in range(7)]),
    )
    for employee, number in ((asha, "+919700000001"), (vikram, "+919700000002")):
        due = DAY.replace(tzinfo=MUMBAI) + timedelta(minutes=30)  # past, for both clocks
        body = {"number": number, "due_at": due.isoformat(), "employee_id": employee}
        made = stack.api.post(
            "/v1/followups",
            json={**body, "note": "send the quote"},
            headers=bearer(mumbai["api_key"]),
        )
        assert made.status_code == 201, made.text
    owner = owner_token(stack, "Mumbai")
    # each rep with an email gets their own calls (Vikram has none: no mail)
    turned = stack.api.patch("/v1/company", json={"rep_digests": True}, headers=bearer(owner))
    assert turned.status_code == 200 and turned.json()["rep_digests"] is True
    invited = stack.api.post(
        "/v1/users",
        json={"email": "north@mumbai.example", "role": "manager", "teams": ["North"]},
        headers=bearer(owner),
    )
    assert invited.status_code == 201
    mumbai_owner, gotham_owner = "owner@mumbai.example", "owner@gotham.example"
    inbox.refuse_once.add(mumbai_owner)  # a 451 once: retried with back-off
    inbox.hold.add(gotham_owner)  # the worker is killed while the server holds this one

    def stored() -> Any:
        day = {"from": DAY.date().isoformat(), "to": DAY.date().isoformat()}
        counts = [
            stack.api.get("/v1/reports/summary", params=day, headers=bearer(c["api_key"])).json()[
                "total_calls"
            ]
            for c in (mumbai, new_york)
        ]
        return counts == [15, 7]

    eventually(stored, 60)
    clock.set(MUMBAI_0800 - timedelta(minutes=1))
    eventually(lambda: inbox.to("north@mumbai.example"), 15)  # the invitation: the sender runs
    assert not digests_to(inbox, mumbai_owner) and not inbox.refused  # not before 08:00

    clock.set(MUMBAI_0800)
    north = eventually(lambda: digests_to(inbox, "north@mumbai.example"), 30)
    assert eventually(lambda: inbox.refused == [mumbai_owner], 15)
    clock.set(MUMBAI_0800 + FIRST_RETRY + timedelta(seconds=1))  # the retry's time
    (mumbai_digest,) = eventually(lambda: digests_to(inbox, mumbai_owner), 30)
    assert not digests_to(inbox, gotham_owner)  # 03:30 in New York
    assert_figures_are_the_reports(stack, owner, mumbai_digest)
    # the team-limited manager: only their team, equal to their own reports
    (north_digest,) = north
    assert "Asha" in text_of(north_digest) and "Vikram" not in text_of(north_digest)
    assert "Vikram" in text_of(mumbai_digest)
    # overdue follow-ups: the API's list for the same scope
    late = stack.api.get("/v1/followups", params={"status": "overdue"}, headers=bearer(owner))
    expected = [(mask_number(f["number"]), f["employee_name"]) for f in late.json()["items"]]
    assert overdue_in(mumbai_digest) == expected and len(expected) == 2
    assert overdue_in(north_digest) == [f for f in expected if f[1] == "Asha"]
    (own,) = eventually(lambda: digests_to(inbox, "asha@mumbai.example"), 15)
    assert_figures_are_the_reports(stack, owner, own, asha)
    assert "your own calls" in text_of(own) and "Vikram" not in text_of(own)
    assert mumbai_digest["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    photographed(mumbai_digest, screenshot_dir(tmp_path_factory))

    clock.set(NEW_YORK_0800)
    assert inbox.holding.wait(30)
    stack.kill_worker()  # in the middle of the send: the server has not answered yet
    inbox.release.set()
    eventually(lambda: inbox.dropped == [gotham_owner], 15)
    stack.start_worker()
    clock.set(NEW_YORK_0800 + LEASE + timedelta(seconds=1))  # the dead sender's lease ended
    (gotham_digest,) = eventually(lambda: digests_to(inbox, gotham_owner), 60)
    assert_figures_are_the_reports(stack, owner_token(stack, "Gotham"), gotham_digest)

    # later that day, and across the restart: nobody gets a second one
    clock.set(NEW_YORK_0800 + timedelta(hours=3))
    eventually(stored, 5)
    for address in (mumbai_owner, gotham_owner, "north@mumbai.example"):
        assert len(digests_to(inbox, address)) == 1, address

    # one click (RFC 8058) without signing in: the next morning brings the others theirs only
    link = re.fullmatch(r"<(.+)>", str(north_digest["List-Unsubscribe"]))
    assert link is not None
    path = link.group(1).removeprefix(str(stack.api.base_url).rstrip("/"))
    clicked = stack.api.post(path, content=b"List-Unsubscribe=One-Click")
    assert clicked.status_code == 200, clicked.text
    clock.set(MUMBAI_0800 + timedelta(days=1))
    eventually(lambda: len(digests_to(inbox, mumbai_owner)) == 2, 30)
    assert len(digests_to(inbox, "north@mumbai.example")) == 1


def notices_to(inbox: Inbox, address: str) -> list[str]:
    return [str(m["Subject"]) for m in inbox.to(address) if "calls of" not in str(m["Subject"])]


def notices_once(inbox: Inbox, address: str, count: int) -> list[str]:
    """The notices mailed to `address`, once there are `count` of them."""
    told = eventually(lambda: len(notices_to(inbox, address)) >= count, 30)
    assert told
    found = notices_to(inbox, address)
    assert len(found) == count, found
    return found


def test_the_lifecycle_notices_each_once_at_their_days(
    digest_stack: tuple[Stack, Inbox, Clock],
) -> None:
    stack, inbox, clock = digest_stack
    company = stack.signup("Lapsing")
    owner, address = bearer(owner_token(stack, "Lapsing")), "owner@lapsing.example"
    start = MUMBAI_0800 - timedelta(hours=2)
    end = start + timedelta(days=10)
    stack.run("company", "period-end", company["company_id"], end.isoformat())
    # a paying company never ends by its date alone: the operator's billing cancels it
    stack.run("company", "cancel", company["company_id"], "--reason", "not renewed")

    assert stack.api.post("/v1/privacy/exports", headers=owner).status_code == 202
    eventually(lambda: notices_to(inbox, address) == ["The company export is ready"], 30)

    steps = [
        (end - timedelta(days=7), "Lapsing will be deactivated on"),
        (end - timedelta(days=1), "Lapsing will be deactivated on"),
        (end, "Lapsing is deactivated"),
        (end + timedelta(days=3), "Lapsing's data will be deleted on"),
    ]
    for count, (at, subject) in enumerate(steps, start=2):
        clock.set(at)
        told = notices_once(inbox, address, count)
        assert told[-1].startswith(subject), told
    assert "(Asia/Kolkata)" in notices_to(inbox, address)[1]  # a time a person reads names its zone
    listed = stack.api.get("/v1/notifications", headers=owner)
    assert listed.status_code == 200  # a deactivated company still reads its notifications
    kinds = [n["kind"] for n in listed.json()["items"]]
    assert kinds == [
        "company.purging",
        "subscription.deactivated",
        "subscription.deactivating",
        "subscription.deactivating",
        "export.ready",
    ]
    clock.set(end + timedelta(days=5))  # the purge, then its mail to the addresses it deleted
    assert notices_once(inbox, address, 6)[-1] == "Lapsing's data is deleted"
    assert stack.api.get("/v1/me", headers=owner).status_code == 401
