"""The worker's pure transform and its retry loop."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.accounts.directory import CompanyFacts
from core.number_crypto import decrypt_number, new_wrapped_data_key, unwrap_company_keys
from ingest.call_batches import validate_calls
from ingest.identity import DeviceIdentity
from schemas.events import CALL_ID_NAMESPACE, stable_call_id
from streams import retry
from streams.calls.rows import (
    CALL_COLUMNS,
    call_rows,
    decode_calls_event,
)
from streams.decoding import UnprocessableRecord

MASTER = os.urandom(32)
KEYS = unwrap_company_keys(MASTER, "c1", new_wrapped_data_key(MASTER, "c1"))
COMPANY = CompanyFacts(country="IN", keys=KEYS)
DEVICE = DeviceIdentity(device_id="d1", company_id="c1", employee_id="e1", tracking_enabled=True)
SYNCED = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def row_for(**call: object) -> dict[str, object]:
    record = {
        "id": "42",
        "number": "098765 43210",
        "type": 2,
        "started_at": "2026-03-02T10:00:00+05:30",
        "duration_s": 61,
        "name": "Ravi",
        **call,
    }
    event = validate_calls([record], DEVICE, SYNCED).events[0]
    decoded = decode_calls_event(event.model_dump_json().encode())
    (row,) = call_rows(decoded, COMPANY)
    return dict(zip(CALL_COLUMNS, row, strict=True))


def test_row_holds_no_plaintext_number() -> None:
    row = row_for()
    assert "9876543210" not in repr(row)
    assert decrypt_number(KEYS, str(row["number_enc"])) == "+919876543210"
    assert row["number_masked"] == "+91******3210"
    assert row["type"] == "outgoing" and row["started_at"] == datetime(
        2026, 3, 2, 4, 30, tzinfo=UTC
    )
    assert row["version"] == int(SYNCED.timestamp() * 1_000_000)


def test_same_call_same_ids_and_client_key() -> None:
    first, again = row_for(), row_for(number="+91 98765 43210", duration_s=90)
    assert (first["call_id"], first["client_key"]) == (again["call_id"], again["client_key"])
    assert first["call_id"] != row_for(id="43")["call_id"]


@given(st.text(), st.text(), st.text())
def test_stable_call_id_is_the_uuid5_of_company_device_and_phone_id(
    company: str, device: str, phone_call_id: str
) -> None:
    expected = uuid.uuid5(CALL_ID_NAMESPACE, f"{company}/{device}/{phone_call_id}")
    assert stable_call_id(company, device, phone_call_id) == str(expected)


def test_private_number_is_no_client() -> None:
    row = row_for(number="-2")
    assert (row["client_key"], row["number_enc"], row["number_masked"]) == ("", "", "")


def test_undecodable_event_is_unprocessable_without_echoing_input() -> None:
    with pytest.raises(UnprocessableRecord) as raised:
        decode_calls_event(
            b'{"type": "calls.recorded", "payload": {"calls": [{"number": "9876543210"}]}}'
        )
    assert "9876543210" not in str(raised.value)


def test_retry_retries_outages_and_propagates_permanent_errors(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def no_sleep(_s: float) -> None:
        return None

    monkeypatch.setattr("streams.retry.asyncio.sleep", no_sleep)
    outcomes: list[object] = [ConnectionError("down"), ConnectionError("down"), "stored"]

    async def flaky() -> object:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    assert asyncio.run(retry.until_success("insert", flaky)) == "stored"

    async def unknown() -> None:
        raise UnprocessableRecord("unknown company")

    with pytest.raises(UnprocessableRecord):
        asyncio.run(retry.until_success("lookup", unknown, permanent=(UnprocessableRecord,)))
