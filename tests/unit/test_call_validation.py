"""Per-record validation of uploads: what is accepted, and the messages for what is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import DomainError
from ingest.call_batches import calls_of, validate_calls
from ingest.identity import DeviceIdentity
from schemas.payloads import CallType

DEVICE = DeviceIdentity(device_id="d1", company_id="c1", employee_id="e1", tracking_enabled=True)
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
GOOD = {
    "id": "1",
    "number": "9876543210",
    "type": "outgoing",
    "started_at": "2026-03-02T10:00:00+05:30",
    "duration_s": 42,
}


def errors_of(record: dict[str, Any]) -> dict[str, str]:
    batch = validate_calls([record], DEVICE, NOW)
    assert not batch.events and batch.accepted == 0
    return {e.path: e.message for e in batch.rejected[0].errors}


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("incoming", CallType.INCOMING),
        ("OUTGOING", CallType.OUTGOING),
        (3, CallType.MISSED),
        ("5", CallType.REJECTED),
        (7, CallType.ANSWERED_EXTERNALLY),
        (" blocked ", CallType.BLOCKED),
    ],
)
def test_type_by_name_or_android_code(sent: Any, expected: CallType) -> None:
    batch = validate_calls([{**GOOD, "type": sent}], DEVICE, NOW)
    assert batch.events[0].payload.calls[0].type is expected


@pytest.mark.parametrize(
    ("change", "path", "message"),
    [
        ({"type": "fax"}, "type", "unknown call type 'fax'"),
        ({"type": 8}, "type", "Android code 1-7"),
        ({"type": True}, "type", "not a boolean"),
        ({"started_at": "2026-03-02T10:00:00"}, "started_at", "timezone"),
        ({"started_at": 946684799999}, "started_at", "between 2000 and 2100"),
        ({"started_at": "1969-07-20T20:17:00Z"}, "started_at", "between 2000-01-01"),
        ({"started_at": [1]}, "started_at", "RFC 3339"),
        ({"duration_s": -1}, "duration_s", "greater than or equal to 0"),
        ({"duration_s": 90_000}, "duration_s", "less than or equal to 86400"),
        ({"id": " "}, "id", "non-empty id"),
        ({"number": "9" * 65}, "number", "at most 64"),
        ({"sim_slot": 9}, "sim_slot", "less than or equal to 7"),
    ],
)
def test_rejections_name_the_field_and_reason(
    change: dict[str, Any], path: str, message: str
) -> None:
    errors = errors_of({**GOOD, **change})
    assert path in errors, errors
    assert message in errors[path]


def test_partial_acceptance_keeps_index_and_id() -> None:
    batch = validate_calls([GOOD, {**GOOD, "id": 7, "type": "fax"}, "not an object"], DEVICE, NOW)
    assert batch.accepted == 1
    assert [(r.index, r.id) for r in batch.rejected] == [(1, "7"), (2, None)]


def test_event_envelope_carries_identity_and_sync_time() -> None:
    event = validate_calls([{**GOOD, "extra_field_from_newer_agent": 1}], DEVICE, NOW).events[0]
    assert (event.type, event.version, event.company_id, event.device_id, event.employee_id) == (
        "calls.recorded",
        1,
        "c1",
        "d1",
        "e1",
    )
    assert event.payload.synced_at == NOW
    assert event.payload.calls[0].id == "1"


@pytest.mark.parametrize(
    ("body", "status", "path"),
    [
        ([], 422, ""),
        ({"calls": {}}, 422, "calls"),
        ({}, 422, "calls"),
        ({"calls": [GOOD] * 501}, 413, "calls"),
    ],
)
def test_malformed_envelope(body: Any, status: int, path: str) -> None:
    with pytest.raises(DomainError) as raised:
        calls_of(body, max_batch=500)
    assert raised.value.status == status
    assert raised.value.fields[0][0] == path


@given(
    st.lists(
        st.dictionaries(
            st.sampled_from([*list(GOOD), "name", "note", "sim_slot"]),
            st.one_of(st.none(), st.integers(), st.text(max_size=20)),
        ),
        max_size=20,
    )
)
def test_any_batch_is_split_into_accepted_and_rejected(items: list[dict[str, Any]]) -> None:
    batch = validate_calls(items, DEVICE, NOW)
    assert batch.accepted + len(batch.rejected) == len(items)
    assert sum(len(event.payload.calls) for event in batch.events) == batch.accepted
    assert all(r.errors for r in batch.rejected)


def test_calls_starting_more_than_a_day_ahead_are_rejected() -> None:
    ahead = {**GOOD, "started_at": "2026-03-03T12:00:01+00:00"}  # NOW + 24 h + 1 s
    just_inside = {**GOOD, "id": "2", "started_at": "2026-03-03T12:00:00+00:00"}
    batch = validate_calls([ahead, just_inside], DEVICE, NOW)
    assert batch.accepted == 1
    assert batch.rejected[0].index == 0
    assert batch.rejected[0].errors[0].path == "started_at"
    assert "in the future" in batch.rejected[0].errors[0].message


def test_started_at_as_epoch_milliseconds_is_the_same_instant() -> None:
    as_text = validate_calls([GOOD], DEVICE, NOW).events[0].payload.calls[0].started_at
    millis = int(as_text.timestamp() * 1000) + 250
    as_millis = validate_calls([{**GOOD, "started_at": millis}], DEVICE, NOW)
    started = as_millis.events[0].payload.calls[0].started_at
    assert started.tzinfo is not None and started - as_text == timedelta(milliseconds=250)
