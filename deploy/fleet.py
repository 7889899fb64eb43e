"""A simulated fleet of phones: enrols devices for a company and uploads realistic call logs.
The same code drives `make up` (DEMO: a sales team's working days) and the benchmarks (a steady
rate around the clock, scaled by FleetConfig)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx

from core.clock import utc_now
from core.settings import Settings

log = logging.getLogger(__name__)

# (type as the agent may send it, weight); names and Android codes both occur in the field
CALL_TYPE_MIX = [
    ("outgoing", 40),
    (2, 8),
    ("incoming", 25),
    (1, 5),
    ("missed", 12),
    (3, 3),
    ("rejected", 4),
    ("blocked", 1),
    ("voicemail", 1),
    ("answered_externally", 1),
]
FIRST_NAMES = [
    "Ravi",
    "Priya",
    "Amit",
    "Sneha",
    "Vikram",
    "Anjali",
    "Rahul",
    "Kavya",
    "Arjun",
    "Meera",
]
NO_NUMBER = ["", "-1", "PRIVATE"]


REP_NAMES = [
    ("Asha Rao", "North"),
    ("Ravi Kumar", "South"),
    ("Priya Nair", "North"),
    ("Arjun Mehta", "South"),
    ("Kavya Iyer", "North"),
    ("Vikram Singh", "South"),
    ("Sneha Patil", "North"),
    ("Rahul Das", "South"),
]


@dataclass(frozen=True, slots=True)
class FleetConfig:
    phones: int = 5
    calls_per_hour: float = 120.0  # per phone, around the clock (without `working_day`)
    upload_interval_s: float = 5.0
    batch_max: int = 100
    clients: int = 60  # distinct customer numbers the company talks to
    utc_offset_minutes: int = 330
    backfill_days: int = 0  # upload this many past working days of calls first
    offline_burst_s: float = 0.0  # phones come back online holding this long a backlog
    status_interval_s: float = 60.0  # device status reports (battery, location); 0: none
    seed: int = 7
    # a sales team's day instead of a steady rate: each phone makes a number of calls drawn
    # from `daily_calls`, between these local hours only; a missed client is called back
    # (within 3 h) with `callback_share`; the last `quiet_phones` phones upload their history
    # and then fall silent (a stale phone on Devices); reps named and split into two teams
    working_day: tuple[int, int] | None = None
    daily_calls: tuple[int, int] = (40, 120)
    callback_share: float = 0.0
    quiet_phones: int = 0
    named_reps: bool = False

    def hourly_rate(self, rng: random.Random) -> float:
        """One phone's calls per hour while it works."""
        if self.working_day is None:
            return self.calls_per_hour
        return rng.randint(*self.daily_calls) / (self.working_day[1] - self.working_day[0])


# `make up`: a week of a sales team's working days, thousands of clients, live calls 09-19 h
DEMO = FleetConfig(
    clients=4000,
    working_day=(9, 19),
    callback_share=0.5,
    quiet_phones=1,
    named_reps=True,
    status_interval_s=120.0,
)


@dataclass(slots=True)
class UploadStats:
    """What a fleet saw of ingest: per-request latencies and outcomes."""

    latencies_s: list[float] = field(default_factory=list)
    accepted: int = 0
    refused: int = 0
    refused_by_status: Counter[int] = field(default_factory=Counter)

    def summary(self) -> str:
        statuses = ", ".join(f"{n} x {s}" for s, n in sorted(self.refused_by_status.items()))
        return (
            f"{self.accepted} calls accepted, {self.refused} uploads refused ({statuses or 'none'})"
        )


@dataclass(slots=True)
class Phone:
    token: str
    name: str
    rng: random.Random
    id_prefix: str
    device_id: str = ""
    employee_id: str = ""
    counter: int = 0
    battery_pct: float = 100.0
    status_due: float = 0.0
    resume_at: float = 0.0  # monotonic time before which ingest asked not to upload (Retry-After)
    pending: list[dict[str, Any]] = field(default_factory=list)
    rate: float = 0.0  # calls per working hour (FleetConfig.hourly_rate)
    quiet: bool = False  # uploads its history, then nothing (a stale phone)


def indian_mobile_forms(digits: str) -> list[str]:
    """The ways one Indian mobile number shows up in call logs."""
    return [
        digits,
        f"+91{digits}",
        f"+91 {digits[:5]} {digits[5:]}",
        f"0{digits}",
        f"+91-{digits[:5]}-{digits[5:]}",
        f"0091{digits}",
        f"(+91) {digits}",
    ]


def client_numbers(rng: random.Random, count: int) -> list[tuple[str, str | None]]:
    """Indian mobile numbers written the many ways call logs hold them, some with a name."""
    out = []
    for _ in range(count):
        digits = f"{rng.choice('6789')}{rng.randrange(10**8, 10**9)}"
        written = rng.choice(indian_mobile_forms(digits))
        out.append((written, rng.choice(FIRST_NAMES) if rng.random() < 0.6 else None))
    return out


def make_call(
    phone: Phone, clients: list[tuple[str, str | None]], started: datetime, offset_minutes: int
) -> dict[str, Any]:
    rng = phone.rng
    types, weights = zip(*CALL_TYPE_MIX, strict=True)
    call_type = rng.choices(types, weights)[0]
    number, name = rng.choice(clients) if rng.random() > 0.02 else (rng.choice(NO_NUMBER), None)
    connectable = call_type in ("outgoing", 2, "incoming", 1)
    answered = connectable and rng.random() < 0.8
    duration = int(rng.expovariate(1 / 150)) + 1 if answered else 0
    phone.counter += 1
    call: dict[str, Any] = {
        "id": f"{phone.id_prefix}-{phone.counter}",
        "number": number,
        "type": call_type,
        "started_at": started.astimezone(timezone(timedelta(minutes=offset_minutes))).isoformat(),
        "duration_s": duration,
        "sim_slot": rng.choice([0, 0, 0, 1]),
    }
    if name:
        call["name"] = name
    return call


async def enrol_phones(
    api: httpx.AsyncClient, ingest: httpx.AsyncClient, api_key: str, config: FleetConfig
) -> list[Phone]:
    auth = {"Authorization": f"Bearer {api_key}"}
    existing = (await api.get("/v1/employees", headers=auth)).raise_for_status().json()["items"]
    by_name = {e["name"]: e for e in existing}
    phones, run_id = [], int(time.time())
    for index in range(config.phones):
        name, team = rep_name(index) if config.named_reps else (f"Fleet phone {index + 1}", "Fleet")
        employee = (
            by_name.get(name)
            or (await api.post("/v1/employees", json={"name": name, "team": team}, headers=auth))
            .raise_for_status()
            .json()
        )
        code = await api.post(f"/v1/employees/{employee['id']}/enrollment-codes", headers=auth)
        device = {
            "device_id": f"fleet-{index + 1}",
            "brand": "Simulated",
            "model": "Fleet",
            "android_version": "14",
            "sdk_int": 34,
            "app_version": "1.0.0",
            "app_version_code": 1,
        }
        enrolled = await ingest.post(
            "/v1/devices/enroll",
            json={"code": code.raise_for_status().json()["code"], "device": device},
        )
        grant = enrolled.raise_for_status().json()
        rng = random.Random(config.seed * 1000 + index)
        phones.append(
            Phone(
                token=grant["device_token"],
                name=name,
                rng=rng,
                id_prefix=f"{run_id}-{index}",
                device_id=grant["device_id"],
                employee_id=grant["employee_id"],
                rate=config.hourly_rate(rng),
                quiet=index >= config.phones - config.quiet_phones,
            )
        )
    return phones


def rep_name(index: int) -> tuple[str, str]:
    name, team = REP_NAMES[index % len(REP_NAMES)]
    return (name if index < len(REP_NAMES) else f"{name} {index // len(REP_NAMES) + 1}"), team


def backfill_calls(
    phone: Phone, clients: list[tuple[str, str | None]], config: FleetConfig, now: datetime
) -> None:
    """Past working days (09:00-19:00 local) of calls, queued for the first uploads; with a
    working day, today's hours up to now too (a new company only: a restarted fleet adds
    nothing it sent before)."""
    if not config.backfill_days:
        return
    local = timezone(timedelta(minutes=config.utc_offset_minutes))
    start_h, end_h = config.working_day or (9, 19)
    today = now.astimezone(local).replace(hour=start_h, minute=0, second=0, microsecond=0)
    rate = phone.rate or config.calls_per_hour
    first = 0 if config.working_day else 1
    for days_ago in range(config.backfill_days, first - 1, -1):
        day_start = today - timedelta(days=days_ago)
        day_end = min(day_start + timedelta(hours=end_h - start_h), now)
        if day_end <= day_start:
            continue
        span_s = (day_end - day_start).total_seconds()
        for _ in range(int(rate * span_s / 3600)):
            started = day_start + timedelta(seconds=phone.rng.uniform(0, span_s))
            add_call(phone, clients, started, config)


def queue_offline_burst(
    phone: Phone, clients: list[tuple[str, str | None]], config: FleetConfig, now: datetime
) -> None:
    """The calls a phone made while offline for `offline_burst_s`, queued for upload."""
    count = int(config.calls_per_hour * config.offline_burst_s / 3600)
    for _ in range(count):
        started = now - timedelta(seconds=phone.rng.uniform(0, config.offline_burst_s))
        phone.pending.append(make_call(phone, clients, started, config.utc_offset_minutes))


def add_call(
    phone: Phone, clients: list[tuple[str, str | None]], started: datetime, config: FleetConfig
) -> None:
    """A call into the phone's backlog; a missed one is called back within 3 h, sometimes
    (while the working day lasts)."""
    call = make_call(phone, clients, started, config.utc_offset_minutes)
    phone.pending.append(call)
    if call["type"] not in ("missed", 3) or phone.rng.random() >= config.callback_share:
        return
    back = started + timedelta(seconds=phone.rng.uniform(120, 3 * 3600))
    end_h = (config.working_day or (0, 24))[1]
    local = back.astimezone(timezone(timedelta(minutes=config.utc_offset_minutes)))
    if back > utc_now() or local.hour >= end_h:
        return
    phone.counter += 1
    phone.pending.append(
        call
        | {
            "id": f"{phone.id_prefix}-{phone.counter}",
            "type": "outgoing",
            "started_at": local.isoformat(),
            "duration_s": int(phone.rng.expovariate(1 / 150)) + 1,
        }
    )


def working_now(config: FleetConfig, now: datetime) -> bool:
    if config.working_day is None:
        return True
    local = now.astimezone(timezone(timedelta(minutes=config.utc_offset_minutes)))
    return config.working_day[0] <= local.hour < config.working_day[1]


async def upload_pending(
    phone: Phone, ingest: httpx.AsyncClient, config: FleetConfig, stats: UploadStats | None
) -> None:
    """Upload the backlog in batches, oldest first; keep what ingest did not accept."""
    auth = {"Authorization": f"Bearer {phone.token}"}
    while phone.pending and time.monotonic() >= phone.resume_at:
        batch = phone.pending[: config.batch_max]
        started = time.perf_counter()
        try:
            response = await ingest.post("/v1/calls", json={"calls": batch}, headers=auth)
        except httpx.HTTPError as exc:
            log.warning(
                "%s: upload failed (%r); keeping %d calls", phone.name, exc, len(phone.pending)
            )
            return
        if stats is not None:
            stats.latencies_s.append(time.perf_counter() - started)
        if response.status_code != 202:
            if stats is not None:
                stats.refused += 1
                stats.refused_by_status[response.status_code] += 1
            phone.resume_at = time.monotonic() + retry_after_s(response)
            return
        if stats is not None:
            stats.accepted += response.json()["accepted"]
        del phone.pending[: len(batch)]


def retry_after_s(response: httpx.Response, default_s: float = 5.0) -> float:
    """Ingest's `Retry-After` (seconds), as the agent honours it; a default without one."""
    value = response.headers.get("retry-after", "")
    return float(value) if value.isdigit() else default_s


async def report_status(phone: Phone, ingest: httpx.AsyncClient, config: FleetConfig) -> None:
    """Battery draining through the day, a position somewhere in Mumbai, Wi-Fi or mobile data."""
    rng = phone.rng
    phone.battery_pct = phone.battery_pct - rng.uniform(0, 2) if phone.battery_pct > 15 else 100.0
    now = datetime.now(timezone(timedelta(minutes=config.utc_offset_minutes)))
    body = {
        "at": now.isoformat(),
        "battery_pct": int(phone.battery_pct),
        "charging": phone.battery_pct >= 99,
        "location": {
            "lat": 19.0 + rng.uniform(0, 0.2),
            "lon": 72.8 + rng.uniform(0, 0.2),
            "accuracy_m": rng.choice([5.0, 12.0, 30.0]),
        },
        "app_version": "1.0.0",
        "network": rng.choice(["wifi", "4g", "5g"]),
        "sims": [{"slot": 0, "sim_id": f"{phone.id_prefix}-sim0", "carrier": "Jio"}],
    }
    auth = {"Authorization": f"Bearer {phone.token}"}
    try:
        await ingest.post("/v1/device/status", json=body, headers=auth)
    except httpx.HTTPError as exc:
        log.warning("%s: status report failed (%r)", phone.name, exc)


async def drive_phone(
    phone: Phone,
    ingest: httpx.AsyncClient,
    config: FleetConfig,
    clients: list[tuple[str, str | None]],
    stats: UploadStats | None = None,
    until_drained: bool = False,
) -> None:
    """Accumulate calls at the configured rate and upload them every interval, like the agent;
    with `until_drained`, only upload the backlog (backfill, offline burst) and return."""
    last = utc_now()
    backfill_calls(phone, clients, config, last)
    queue_offline_burst(phone, clients, config, last)
    while True:
        if until_drained or phone.quiet:
            await upload_pending(phone, ingest, config, stats)
            if not phone.pending:
                return
            await asyncio.sleep(max(phone.resume_at - time.monotonic(), 0.1))  # as ingest asked
            continue
        if not phone.pending:
            await asyncio.sleep(config.upload_interval_s * phone.rng.uniform(0.8, 1.2))
        if config.status_interval_s and time.monotonic() >= phone.status_due:
            phone.status_due = time.monotonic() + config.status_interval_s
            await report_status(phone, ingest, config)
        now = utc_now()
        rate = phone.rate or config.calls_per_hour
        expected = rate * (now - last).total_seconds() / 3600 if working_now(config, now) else 0
        count = int(expected) + (phone.rng.random() < expected - int(expected))
        for _ in range(count):
            add_call(phone, clients, last + (now - last) * phone.rng.random(), config)
        last = now
        await upload_pending(phone, ingest, config, stats)


async def run_fleet_async(settings: Settings, config: FleetConfig, api_key: str) -> None:
    api_url = f"http://{settings.api_host}:{settings.api_port}"
    ingest_url = f"http://{settings.ingest_host}:{settings.ingest_port}"
    async with (
        httpx.AsyncClient(base_url=api_url, timeout=30) as api,
        httpx.AsyncClient(base_url=ingest_url, timeout=30) as ingest,
    ):
        phones = await enrol_phones(api, ingest, api_key, config)
        clients = client_numbers(random.Random(config.seed), config.clients)
        if config.named_reps:
            await seed_leads(api, api_key, clients, phones)
        log.info(
            "fleet: %d phones enrolled, ~%.0f calls/hour each", len(phones), config.calls_per_hour
        )
        stats = UploadStats()
        summaries = asyncio.create_task(log_summaries(stats, SUMMARY_INTERVAL_S))
        try:
            await asyncio.gather(*(drive_phone(p, ingest, config, clients, stats) for p in phones))
        finally:
            summaries.cancel()


DEMO_LEADS = 12


async def seed_leads(
    api: httpx.AsyncClient,
    api_key: str,
    clients: list[tuple[str, str | None]],
    phones: list[Phone],
) -> None:
    """A few leads among the clients the reps call, assigned round robin, once per company
    (nothing on a plan without leads)."""
    auth = {"Authorization": f"Bearer {api_key}"}
    found = await api.get("/v1/leads", params={"limit": 1}, headers=auth)
    if found.status_code != 200 or found.json()["items"]:
        return
    for index, (number, name) in enumerate(clients[:DEMO_LEADS]):
        lead = {
            "first_name": name or FIRST_NAMES[index % len(FIRST_NAMES)],
            "last_name": "Lead",
            "company": f"Prospect {index + 1} Pvt Ltd",
            "primary_number": number,
            "employee_id": phones[index % len(phones)].employee_id,
        }
        made = await api.post("/v1/leads", json=lead, headers=auth)
        if made.status_code not in (201, 409):
            log.warning("demo lead refused: %s %s", made.status_code, made.text[:200])


SUMMARY_INTERVAL_S = 60.0


async def log_summaries(stats: UploadStats, interval_s: float) -> None:
    """One line per interval instead of one per refused upload."""
    while True:
        await asyncio.sleep(interval_s)
        log.info("fleet, last %.0f s: %s", interval_s, stats.summary())
        stats.accepted, stats.refused = 0, 0
        stats.refused_by_status.clear()
        stats.latencies_s.clear()


def run_fleet(settings: Settings, config: FleetConfig, api_key: str) -> None:
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_fleet_async(settings, config, api_key))
