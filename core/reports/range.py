"""The time range of a report (METRICS.md "Time"): local inclusive dates or half-open instants."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cache
from importlib.resources import files
from zoneinfo import ZoneInfo

from schemas.column_types import EARLIEST_TIME, LATEST_TIME

MAX_RANGE_DAYS = 366
MAX_BOUND_CHARS = 64
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class RangeError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class ReportRange:
    start: datetime  # inclusive, aware
    end: datetime  # exclusive, aware
    zone: ZoneInfo

    @property
    def start_ts(self) -> int:
        return int(self.start.timestamp())

    @property
    def end_ts(self) -> int:
        return int(self.end.timestamp())

    def as_json(self) -> dict[str, str]:
        return {
            "from": self.start.astimezone(self.zone).isoformat(),
            "to": self.end.astimezone(self.zone).isoformat(),
            "tz": self.zone.key,
        }


@cache
def known_zones() -> frozenset[str]:
    """The IANA zone names of the tzdata package: what both ClickHouse backends load too. A
    file lookup by any name the client sends (`right/UTC`, 300 characters) is never tried."""
    return frozenset(files("tzdata").joinpath("zones").read_text().split())


def parse_zone(name: str, field: str = "tz") -> ZoneInfo:
    if name not in known_zones():
        shown = name if len(name) <= MAX_BOUND_CHARS else name[:MAX_BOUND_CHARS] + "..."
        raise RangeError(field, f"unknown time zone {shown!r}: use an IANA name, e.g. Asia/Kolkata")
    return ZoneInfo(name)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The first instant of a local day (zoneinfo resolves DST gaps forward)."""
    return datetime.combine(day, time(0), tzinfo=zone)


def _bound(value: str, zone: ZoneInfo, field: str, *, is_end: bool) -> datetime:
    if len(value) > MAX_BOUND_CHARS:
        raise RangeError(field, "is neither a date (YYYY-MM-DD) nor an RFC 3339 date-time")
    instant = _instant(value, zone, field, is_end=is_end)
    # a day of margin: local midnight of 2000-01-01 east of UTC is still 1999 in UTC
    if not EARLIEST_TIME - timedelta(days=1) <= instant <= LATEST_TIME + timedelta(days=1):
        raise RangeError(field, "must lie between 2000-01-01 and 2100-01-01")
    return instant


def _instant(value: str, zone: ZoneInfo, field: str, *, is_end: bool) -> datetime:
    if _DATE_ONLY.match(value):
        try:
            day = date.fromisoformat(value)
        except ValueError as exc:
            raise RangeError(field, f"{value!r} is not a valid date") from exc
        if not EARLIEST_TIME.year <= day.year < LATEST_TIME.year:
            raise RangeError(field, "must lie between 2000-01-01 and 2100-01-01")
        return local_midnight(day + timedelta(days=1) if is_end else day, zone)
    try:
        instant = datetime.fromisoformat(value)
    except ValueError as exc:
        raise RangeError(
            field, f"{value!r} is neither a date (YYYY-MM-DD) nor an RFC 3339 date-time"
        ) from exc
    if instant.tzinfo is None:
        raise RangeError(field, f"{value!r} needs a UTC offset, e.g. {value}+05:30")
    return instant


def parse_range(
    from_: str | None, to: str | None, tz: str | None, company_zone: str, now: datetime
) -> ReportRange:
    """Dates are inclusive local days, date-times with an offset a half-open [from, to).
    A missing bound is today (local): no parameters means "today", `from` alone "since"."""
    zone = parse_zone(tz) if tz else parse_zone(company_zone, "timezone")
    today = now.astimezone(zone).date()
    start = _bound(from_ or today.isoformat(), zone, "from", is_end=False)
    end = _bound(to or today.isoformat(), zone, "to", is_end=True)
    if end <= start:
        raise RangeError("from", "`from` must be before `to`")
    if end - start > timedelta(days=MAX_RANGE_DAYS, hours=1):
        raise RangeError("to", f"the range is longer than {MAX_RANGE_DAYS} days")
    return ReportRange(start=start, end=end, zone=zone)
