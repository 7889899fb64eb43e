"""Validating an uploaded batch of calls record by record: the valid ones become Kafka events
(up to CALLS_PER_RECORD calls each), the others are reported back with index, id and errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from core.errors import Invalid, TooLarge, clean_message, error_path
from ingest.identity import DeviceIdentity
from schemas.events import CALLS_PER_RECORD, CallsRecorded, DeviceEvent
from schemas.payloads import CallRecord, CallsPayload, FieldError, RejectedRecord


def kafka_record(event: DeviceEvent) -> tuple[bytes, bytes]:
    """A device event as a Kafka record, keyed by device so its events stay in order."""
    return event.device_id.encode(), event.model_dump_json().encode()


@dataclass(frozen=True, slots=True)
class ValidatedBatch:
    events: list[CallsRecorded]
    rejected: list[RejectedRecord]
    accepted: int


def calls_of(body: Any, max_batch: int) -> list[Any]:
    """The `calls` array of the envelope; a malformed envelope is a 422, too many calls a 413."""
    if not isinstance(body, dict):
        raise Invalid(
            "invalid_request", "the body must be a JSON object", [("", "object expected")]
        )
    calls = body.get("calls")
    if not isinstance(calls, list):
        raise Invalid("invalid_request", "`calls` must be an array", [("calls", "array required")])
    if len(calls) > max_batch:
        raise TooLarge(
            "batch_too_large",
            f"{len(calls)} calls in one batch; send at most {max_batch}",
            [("calls", f"at most {max_batch} items")],
        )
    return calls


def record_id(item: Any) -> str | None:
    if isinstance(item, dict) and isinstance(item.get("id"), str | int):
        return str(item["id"])
    return None


def validate_calls(
    items: list[Any],
    device: DeviceIdentity,
    synced_at: datetime,
    max_future_skew: timedelta = timedelta(hours=24),
) -> ValidatedBatch:
    valid, rejected = [], []
    latest_start = synced_at + max_future_skew
    for index, item in enumerate(items):
        try:
            record = CallRecord.model_validate(item)
        except ValidationError as exc:
            errors = [
                FieldError(path=error_path(err["loc"]) or "", message=clean_message(err["msg"]))
                for err in exc.errors()
            ]
            rejected.append(RejectedRecord(index=index, id=record_id(item), errors=errors))
            continue
        if record.started_at > latest_start:
            hours = max_future_skew.total_seconds() / 3600
            message = f"is more than {hours:g} h in the future: is the phone's clock right?"
            error = FieldError(path="started_at", message=message)
            rejected.append(RejectedRecord(index=index, id=record.id, errors=[error]))
            continue
        valid.append(record)
    events = [
        CallsRecorded(
            occurred_at=synced_at,
            **device.envelope(),
            payload=CallsPayload.model_construct(
                synced_at=synced_at, calls=valid[start : start + CALLS_PER_RECORD]
            ),
        )
        for start in range(0, len(valid), CALLS_PER_RECORD)
    ]
    return ValidatedBatch(events=events, rejected=rejected, accepted=len(valid))
