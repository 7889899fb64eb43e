"""Report ranges: inclusive local dates, half-open instants, DST, and the errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.reports.range import RangeError, parse_range

NOW = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)


def test_dates_are_inclusive_local_days() -> None:
    rng = parse_range("2026-03-02", "2026-03-03", None, "Asia/Kolkata", NOW)
    assert rng.as_json() == {
        "from": "2026-03-02T00:00:00+05:30",
        "to": "2026-03-04T00:00:00+05:30",
        "tz": "Asia/Kolkata",
    }
    assert rng.end - rng.start == timedelta(days=2)


def test_dst_day_is_23_hours_in_berlin() -> None:
    rng = parse_range("2026-03-29", "2026-03-29", None, "Europe/Berlin", NOW)
    assert (rng.end_ts - rng.start_ts) == 23 * 3600
    assert rng.as_json()["to"] == "2026-03-30T00:00:00+02:00"


def test_offset_datetimes_are_half_open_instants_and_tz_overrides() -> None:
    rng = parse_range(
        "2026-03-02T10:00:00+05:30", "2026-03-02T11:00:00Z", "America/New_York", "Asia/Kolkata", NOW
    )
    assert rng.start == datetime(2026, 3, 2, 4, 30, tzinfo=UTC)
    assert rng.end == datetime(2026, 3, 2, 11, 0, tzinfo=UTC)
    assert rng.as_json()["tz"] == "America/New_York"


def test_default_is_today_in_the_zone() -> None:
    rng = parse_range(None, None, None, "Pacific/Auckland", NOW)  # already 30 March there
    assert rng.as_json()["from"].startswith("2026-03-30T00:00:00")


@pytest.mark.parametrize(
    ("args", "field"),
    [
        (("2026-03-05", "2026-03-01", None), "from"),
        (("2025-01-01", "2026-03-01", None), "to"),
        (("2026-03-01", "2026-03-02", "Mars/Olympus"), "tz"),
        (("2026-03-01T10:00:00", None, None), "from"),
        (("2026-02-30", None, None), "from"),
        (("yesterday", None, None), "from"),
    ],
)
def test_bad_ranges_name_the_field(
    args: tuple[str | None, str | None, str | None], field: str
) -> None:
    with pytest.raises(RangeError) as raised:
        parse_range(*args, "Asia/Kolkata", NOW)
    assert raised.value.field == field


@given(
    st.dates(min_value=datetime(2000, 1, 1).date(), max_value=datetime(2090, 1, 1).date()),
    st.integers(0, 365),
    st.sampled_from(
        ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe", "UTC"]
    ),
)
def test_date_ranges_cover_whole_local_days(start: date, days: int, zone: str) -> None:
    first = start.isoformat()
    last = (start + timedelta(days=days)).isoformat()
    rng = parse_range(first, last, zone, "UTC", NOW)
    assert rng.start.astimezone(rng.zone).date().isoformat() == first
    assert (rng.end.astimezone(rng.zone) - timedelta(seconds=1)).date().isoformat() == last
    hours = (rng.end_ts - rng.start_ts) / 3600
    assert abs(hours - 24 * (days + 1)) <= 2 * 1  # DST shifts of at most an hour each way
