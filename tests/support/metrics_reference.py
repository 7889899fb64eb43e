"""A small, slow, obviously-correct Python reading of METRICS.md, to check the SQL against.
It shares no code with the product: clients are plain E.164 strings, times plain datetimes."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

TYPES = (
    "incoming",
    "outgoing",
    "missed",
    "voicemail",
    "rejected",
    "blocked",
    "answered_externally",
)


@dataclass(frozen=True)
class RefCall:
    key: tuple[str, str]  # (device, phone's call id): the identity of a call
    employee: str
    client: str | None  # E.164, None when the call has no usable number
    type: str
    started_at: datetime
    duration_s: int
    name: str | None = None

    @property
    def connected(self) -> bool:
        return self.type in ("incoming", "outgoing") and self.duration_s > 0

    @property
    def unanswered_outgoing(self) -> bool:
        return self.type == "outgoing" and self.duration_s == 0


def final_versions(uploads: list[RefCall]) -> list[RefCall]:
    """The same call sent again counts once; the latest upload wins."""
    return list({call.key: call for call in uploads}.values())


def in_range(calls: list[RefCall], start: datetime, end: datetime) -> list[RefCall]:
    return [c for c in calls if start <= c.started_at < end]


def basic_counts(calls: list[RefCall]) -> dict[str, Any]:
    connected = [c for c in calls if c.connected]
    talk = sum(c.duration_s for c in connected)
    return {
        "total_calls": len(calls),
        **{t: sum(1 for c in calls if c.type == t) for t in TYPES},
        "connected": len(connected),
        "unanswered_outgoing": sum(1 for c in calls if c.unanswered_outgoing),
        "talk_time_s": talk,
        "unique_clients": len({c.client for c in calls if c.client}),
        "avg_talk_s": round(talk / len(connected), 2) if connected else 0,
    }


def _iso(instant: datetime, zone: ZoneInfo) -> str:
    return instant.astimezone(zone).isoformat()


def unattended(
    calls: list[RefCall],
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    trigger: str,
    employees: set[str] | None,
) -> list[dict[str, Any]]:
    """never attended (trigger 'missed') or not picked up (trigger 'outgoing')."""
    ranged = in_range(calls, start, end)

    def is_trigger(c: RefCall) -> bool:
        hit = c.type in ("missed", "rejected") if trigger == "missed" else c.unanswered_outgoing
        return hit and (employees is None or c.employee in employees)

    out = []
    for client in sorted({c.client for c in ranged if c.client}):
        triggers = [c for c in ranged if c.client == client and is_trigger(c)]
        if not triggers:
            continue
        first = min(c.started_at for c in triggers)
        if any(c.client == client and c.connected and c.started_at >= first for c in ranged):
            continue
        out.append(
            {
                "number": client,
                "count": len(triggers),
                "first": _iso(first, zone),
                "last": _iso(max(c.started_at for c in triggers), zone),
                "employee_ids": sorted({c.employee for c in triggers}),
            }
        )
    return out


def callback_breaches(
    calls: list[RefCall], start: datetime, end: datetime, hours: int, employees: set[str] | None
) -> dict[str, int]:
    """client -> missed calls in range not followed by a connected call within `hours`."""
    window = timedelta(hours=hours)
    out: dict[str, int] = {}
    for missed in in_range(calls, start, end):
        if missed.type not in ("missed", "rejected") or not missed.client:
            continue
        if employees is not None and missed.employee not in employees:
            continue
        answered = any(
            c.client == missed.client
            and c.connected
            and missed.started_at <= c.started_at <= missed.started_at + window
            for c in calls
        )
        if not answered:
            out[missed.client] = out.get(missed.client, 0) + 1
    return out


def working_days(calls: list[RefCall], zone: ZoneInfo) -> list[dict[str, Any]]:
    days: dict[tuple[str, str], list[RefCall]] = defaultdict(list)
    for c in calls:
        if c.type in ("outgoing", "rejected") or (c.type == "incoming" and c.duration_s > 0):
            days[(c.employee, c.started_at.astimezone(zone).date().isoformat())].append(c)
    rows = []
    for (employee, day), activity in sorted(days.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        first = min(c.started_at for c in activity)
        last = max(c.started_at + timedelta(seconds=c.duration_s) for c in activity)
        rows.append(
            {
                "employee_id": employee,
                "day": day,
                "first_activity_at": _iso(first, zone),
                "last_activity_at": _iso(last, zone),
                "working_s": int((last - first).total_seconds()),
                "talk_time_s": sum(c.duration_s for c in activity if c.connected),
                "activity_calls": len(activity),
            }
        )
    return rows


def employees(
    selected: list[RefCall], staff: list[RefCall], zone: ZoneInfo, employee_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """Per employee: the basic counts of their selected calls (type filter applied), the working
    time of all their calls (working hours ignore the type filter) and their last selected call."""
    out = {}
    for employee in employee_ids:
        mine = [c for c in selected if c.employee == employee]
        days = working_days([c for c in staff if c.employee == employee], zone)
        last = max((c.started_at for c in mine), default=None)
        out[employee] = {
            **basic_counts(mine),
            "working_s": sum(day["working_s"] for day in days),
            "last_call_at": _iso(last, zone) if last else None,
        }
    return out


def customers(calls: list[RefCall], zone: ZoneInfo) -> dict[str, dict[str, Any]]:
    out = {}
    for client in {c.client for c in calls if c.client}:
        mine = sorted((c for c in calls if c.client == client), key=lambda c: c.started_at)
        counts = basic_counts(mine)
        del counts["unique_clients"]
        out[client] = {
            **counts,
            "first_call_at": _iso(mine[0].started_at, zone),
            "last_call_at": _iso(mine[-1].started_at, zone),
        }
    return out


def series_by_day(
    calls: list[RefCall], start: datetime, end: datetime, zone: ZoneInfo
) -> list[dict[str, Any]]:
    first = start.astimezone(zone).date()
    last = (end - timedelta(seconds=1)).astimezone(zone).date()
    out = []
    day = first
    while day <= last:
        mine = [c for c in calls if c.started_at.astimezone(zone).date() == day]
        out.append({"bucket": day.isoformat(), **basic_counts(mine)})
        day += timedelta(days=1)
    return out


def series_by_hour(
    calls: list[RefCall], start: datetime, end: datetime, zone: ZoneInfo
) -> list[dict[str, Any]]:
    out = []
    hour = start.astimezone(zone).replace(minute=0, second=0, microsecond=0).astimezone(UTC)
    while hour < end:
        mine = [c for c in calls if hour <= c.started_at < hour + timedelta(hours=1)]
        out.append({"bucket": _iso(hour, zone), **basic_counts(mine)})
        hour += timedelta(hours=1)
    return out
