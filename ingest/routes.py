"""The device API's routes: enrolment and uploads, answered after Kafka acknowledged."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from core.clock import utc_now
from core.errors import ApiError, error_responses
from core.health import Health, broker_problem, database_problem, readiness
from core.http_policy import UPLOAD_BODY_CEILING
from core.metrics import (
    CALLS_ACCEPTED,
    CALLS_REJECTED,
    METRICS_PATH,
    METRICS_RESPONSE,
    metrics_page,
)
from core.request_body import read_json_body
from ingest.call_batches import calls_of, kafka_record, validate_calls
from ingest.deps import (
    CurrentDevice,
    IngestState,
    State,
    body_as,
    documented_body,
    limit_rate,
    produce,
)
from ingest.device_leads import device_followups, device_leads
from ingest.devices import enroll_device
from schemas.events import CONTACTS_PER_RECORD, CallNoted, ContactsReported, DeviceStatusReported
from schemas.payloads import (
    CallNote,
    CallsAccepted,
    CallsUpload,
    ContactsAccepted,
    ContactsPayload,
    ContactsUpload,
    DeviceFollowups,
    DeviceLeads,
    DeviceLimits,
    DeviceStatus,
    EnrollRequest,
    EnrollResponse,
    NotePayload,
    UploadAccepted,
)

router = APIRouter()
# what every upload may meet
UPLOAD_ERRORS = error_responses(401, 402, 403, 413, 415, 422, 429, 503)


@router.post(
    "/v1/devices/enroll",
    status_code=201,
    response_model=EnrollResponse,
    tags=["devices"],
    responses=error_responses(401, 403, 409, 422),
)
def enroll(body: EnrollRequest, state: State) -> EnrollResponse:
    with state.engine.begin() as db:
        token, identity, revoked = enroll_device(db, body.code, body.device, utc_now())
    state.devices.evict(revoked)
    return EnrollResponse(
        device_token=token,
        device_id=identity.device_id,
        employee_id=identity.employee_id,
        company_id=identity.company_id,
        limits=DeviceLimits(
            max_batch=state.settings.max_batch, max_body_bytes=state.settings.max_body_bytes
        ),
    )


@router.post(
    "/v1/device/status",
    max_body_size=UPLOAD_BODY_CEILING,
    status_code=202,
    responses=UPLOAD_ERRORS,
    response_model=UploadAccepted,
    tags=["devices"],
    openapi_extra=documented_body(DeviceStatus),
)
async def report_status(request: Request, device: CurrentDevice, state: State) -> UploadAccepted:
    limit_rate(state, device)
    status = await body_as(DeviceStatus, request, state)
    now = utc_now()
    if status.at > now + timedelta(seconds=state.settings.max_future_skew_s):
        raise ApiError(422, "invalid_request", "`at` is in the future", [("at", "in the future")])
    event = DeviceStatusReported(
        occurred_at=status.at, received_at=now, **device.envelope(), payload=status
    )
    await produce(state, state.settings.topic_device_status, [kafka_record(event)])
    return UploadAccepted(status="accepted")


@router.post(
    "/v1/contacts",
    max_body_size=UPLOAD_BODY_CEILING,
    status_code=202,
    responses=UPLOAD_ERRORS,
    response_model=ContactsAccepted,
    tags=["contacts"],
    openapi_extra=documented_body(ContactsUpload),
)
async def upload_contacts(
    request: Request, device: CurrentDevice, state: State
) -> ContactsAccepted:
    limit_rate(state, device)
    upload = await body_as(ContactsUpload, request, state)
    now = utc_now()
    records = [
        kafka_record(
            ContactsReported(
                occurred_at=now,
                **device.envelope(),
                payload=ContactsPayload(
                    synced_at=now, contacts=upload.contacts[start : start + CONTACTS_PER_RECORD]
                ),
            )
        )
        for start in range(0, len(upload.contacts), CONTACTS_PER_RECORD)
    ]
    await produce(state, state.settings.topic_contacts_raw, records)
    return ContactsAccepted(accepted=len(upload.contacts))


@router.put(
    "/v1/calls/{call_id}/note",
    max_body_size=UPLOAD_BODY_CEILING,
    status_code=202,
    responses=UPLOAD_ERRORS,
    response_model=UploadAccepted,
    tags=["calls"],
    openapi_extra=documented_body(CallNote),
)
async def note_call(
    call_id: str, request: Request, device: CurrentDevice, state: State
) -> UploadAccepted:
    """The note on a call the phone uploaded (or will upload): `call_id` is the phone's id."""
    limit_rate(state, device)
    if not 0 < len(call_id) <= 128:
        raise ApiError(422, "invalid_request", "bad call id", [("call_id", "1 to 128 characters")])
    note = await body_as(CallNote, request, state)
    now = utc_now()
    event = CallNoted(
        occurred_at=now,
        **device.envelope(),
        payload=NotePayload(synced_at=now, call_id=call_id, note=note.note),
    )
    await produce(state, state.settings.topic_call_notes, [kafka_record(event)])
    return UploadAccepted(status="accepted")


@router.post(
    "/v1/calls",
    max_body_size=UPLOAD_BODY_CEILING,
    status_code=202,
    responses=UPLOAD_ERRORS,
    response_model=CallsAccepted,
    tags=["calls"],
    openapi_extra=documented_body(CallsUpload),
)
async def upload_calls(request: Request, device: CurrentDevice, state: State) -> CallsAccepted:
    limit_rate(state, device)
    body = await read_json_body(request, state.settings.max_body_bytes)
    batch = validate_calls(
        calls_of(body, state.settings.max_batch),
        device,
        utc_now(),
        timedelta(seconds=state.settings.max_future_skew_s),
    )
    records = [kafka_record(event) for event in batch.events]
    await produce(state, state.settings.topic_calls_raw, records)
    CALLS_ACCEPTED.inc(batch.accepted)
    CALLS_REJECTED.inc(len(batch.rejected))
    return CallsAccepted(accepted=batch.accepted, rejected=batch.rejected)


@router.get(
    "/v1/device/leads",
    response_model=DeviceLeads,
    responses=error_responses(401, 402, 403, 422, 429),
    tags=["leads"],
)
async def leads_to_call(
    device: CurrentDevice,
    state: State,
    cursor: Annotated[
        str | None, Query(max_length=32, description="`next_cursor` of the previous answer")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="leads per answer")] = 500,
) -> DeviceLeads:
    """The employee's leads changed since `cursor` (all of them without one), each once; a lead
    re-assigned away or deleted once with `removed: true`. Ask again with `next_cursor` while
    items come back; FCM's `{"action": "leads"}` says when to ask."""
    limit_rate(state, device)
    return await run_in_threadpool(
        device_leads, state.engine, state.master_key, device, cursor, limit
    )


@router.get(
    "/v1/device/followups",
    response_model=DeviceFollowups,
    responses=error_responses(401, 402, 403, 422, 429),
    tags=["leads"],
)
async def followups_to_call(
    device: CurrentDevice,
    state: State,
    limit: Annotated[int, Query(ge=1, le=1000, description="follow-ups per answer")] = 500,
) -> DeviceFollowups:
    """The employee's open follow-ups, earliest due first, numbers in E.164. FCM's
    `{"action": "followups"}` says when to ask (a follow-up given to the employee, or due)."""
    limit_rate(state, device)
    return await run_in_threadpool(device_followups, state.engine, state.master_key, device, limit)


@router.get(METRICS_PATH, tags=["health"], response_class=Response, responses=METRICS_RESPONSE)
def metrics() -> Response:
    """Prometheus metrics of this process (text format; deploy/README.md "Metrics")."""
    return metrics_page()


@router.get("/readyz", tags=["health"], response_model=Health, responses=error_responses(503))
async def readyz(state: State) -> Health | JSONResponse:
    """The broker and the control plane are reachable (503 names what is down)."""
    return readiness(await run_in_threadpool(dependency_problems, state))


def dependency_problems(state: IngestState) -> list[str | None]:
    return [database_problem(state.engine), broker_problem(state.settings.kafka_bootstrap)]
