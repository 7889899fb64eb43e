"""The ingest application: device enrollment and uploads, answered after Kafka acknowledged."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import Engine

from core.controlplane import make_engine
from core.errors import ApiError, install_error_handlers, validation_fields
from core.health import broker_problem, database_problem, readiness
from core.http_policy import DOCS_ASSETS, OFFLINE_SWAGGER_UI, install_http_policy
from core.rate_limit import RateLimiter, enforce
from core.settings import Settings
from ingest.body import read_json_body
from ingest.call_batches import calls_of, kafka_record, validate_calls
from ingest.devices import DeviceAuthenticator, enroll_device
from ingest.identity import DeviceIdentity
from ingest.kafka_producer import AckingProducer, BrokerUnavailable
from schemas.agent_contract import inline_schema
from schemas.events import CONTACTS_PER_RECORD, CallNoted, ContactsReported, DeviceStatusReported
from schemas.payloads import (
    CallNote,
    CallsAccepted,
    CallsUpload,
    ContactsPayload,
    ContactsUpload,
    DeviceLimits,
    DeviceStatus,
    EnrollRequest,
    EnrollResponse,
    NotePayload,
)

log = logging.getLogger(__name__)


class IngestState:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self.settings = settings
        self.engine = engine
        self.producer = AckingProducer(settings.kafka_bootstrap, settings.kafka_ack_timeout_ms)
        self.devices = DeviceAuthenticator(engine, settings.device_cache_ttl_s)
        self.rate_limiter = RateLimiter(settings.device_rate_per_s, settings.device_rate_burst)


def state_of(request: Request) -> IngestState:
    state: IngestState = request.app.state.ingest
    return state


State = Annotated[IngestState, Depends(state_of)]


async def current_device(request: Request, state: State) -> DeviceIdentity:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise ApiError(
            401, "unauthenticated", "send the device token as `Authorization: Bearer <token>`"
        )
    device = state.devices.cached(token) or await run_in_threadpool(
        state.devices.authenticate, token
    )
    if device is None:
        raise ApiError(
            401, "invalid_device_token", "the device token is unknown or revoked; enrol again"
        )
    if not device.tracking_enabled:
        raise ApiError(403, "tracking_disabled", "tracking is disabled for this employee")
    return device


CurrentDevice = Annotated[DeviceIdentity, Depends(current_device)]


Model = TypeVar("Model", bound=BaseModel)


def documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI for a body the route reads itself (gzip, size limits, per-record validation)."""
    schema = inline_schema(model)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def parse(model: type[Model], body: Any) -> Model:
    """A whole-payload body: valid, or a 422 naming every bad field."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        fields = validation_fields(exc.errors())
        raise ApiError(422, "invalid_request", "the request is invalid", fields) from exc


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        app.state.ingest.producer.close()
        app.state.ingest.engine.dispose()

    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        swagger_ui_parameters=OFFLINE_SWAGGER_UI,
        title="closecall ingest API",
        version="1.0",
        description="The API the phone agent talks to.",
        lifespan=lifespan,
    )
    app.state.ingest = IngestState(settings, make_engine(settings.database_url))
    install_error_handlers(app)
    install_http_policy(app, settings.cors_origins)

    @app.post(
        "/v1/devices/enroll", status_code=201, response_model=EnrollResponse, tags=["devices"]
    )
    def enroll(body: EnrollRequest, state: State) -> EnrollResponse:
        with state.engine.begin() as db:
            token, identity, revoked = enroll_device(db, body.code, body.device, datetime.now(UTC))
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

    def limit_rate(state: IngestState, device: DeviceIdentity) -> None:
        enforce(state.rate_limiter, device.device_id, "uploads from this device")

    async def body_as(model: type[Model], request: Request, state: IngestState) -> Model:
        return parse(model, await read_json_body(request, state.settings.max_body_bytes))

    async def produce(state: IngestState, topic: str, records: list[tuple[bytes, bytes]]) -> None:
        try:
            await state.producer.send_all(topic, records)
        except BrokerUnavailable as exc:
            log.warning("upload refused with 503: %s", exc)
            raise ApiError(
                503,
                "broker_unavailable",
                "uploads are paused; nothing of this upload was accepted, retry later",
                headers={"Retry-After": str(state.settings.retry_after_s)},
            ) from exc

    @app.post(
        "/v1/device/status",
        status_code=202,
        tags=["devices"],
        openapi_extra=documented_body(DeviceStatus),
    )
    async def report_status(
        request: Request, device: CurrentDevice, state: State
    ) -> dict[str, str]:
        limit_rate(state, device)
        status = await body_as(DeviceStatus, request, state)
        now = datetime.now(UTC)
        if status.at > now + timedelta(seconds=state.settings.max_future_skew_s):
            raise ApiError(
                422, "invalid_request", "`at` is in the future", [("at", "in the future")]
            )
        event = DeviceStatusReported(
            occurred_at=status.at, received_at=now, **device.envelope(), payload=status
        )
        await produce(state, state.settings.topic_device_status, [kafka_record(event)])
        return {"status": "accepted"}

    @app.post(
        "/v1/contacts",
        status_code=202,
        tags=["contacts"],
        openapi_extra=documented_body(ContactsUpload),
    )
    async def upload_contacts(
        request: Request, device: CurrentDevice, state: State
    ) -> dict[str, Any]:
        limit_rate(state, device)
        upload = await body_as(ContactsUpload, request, state)
        now = datetime.now(UTC)
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
        return {"accepted": len(upload.contacts)}

    @app.put(
        "/v1/calls/{call_id}/note",
        status_code=202,
        tags=["calls"],
        openapi_extra=documented_body(CallNote),
    )
    async def note_call(
        call_id: str, request: Request, device: CurrentDevice, state: State
    ) -> dict[str, str]:
        """The note on a call the phone uploaded (or will upload): `call_id` is the phone's id."""
        limit_rate(state, device)
        if not 0 < len(call_id) <= 128:
            raise ApiError(
                422, "invalid_request", "bad call id", [("call_id", "1 to 128 characters")]
            )
        note = await body_as(CallNote, request, state)
        now = datetime.now(UTC)
        event = CallNoted(
            occurred_at=now,
            **device.envelope(),
            payload=NotePayload(synced_at=now, call_id=call_id, note=note.note),
        )
        await produce(state, state.settings.topic_call_notes, [kafka_record(event)])
        return {"status": "accepted"}

    @app.post(
        "/v1/calls",
        status_code=202,
        response_model=CallsAccepted,
        tags=["calls"],
        openapi_extra=documented_body(CallsUpload),
    )
    async def upload_calls(request: Request, device: CurrentDevice, state: State) -> Any:
        limit_rate(state, device)
        body = await read_json_body(request, state.settings.max_body_bytes)
        batch = validate_calls(
            calls_of(body, state.settings.max_batch),
            device,
            datetime.now(UTC),
            timedelta(seconds=state.settings.max_future_skew_s),
        )
        records = [kafka_record(event) for event in batch.events]
        await produce(state, state.settings.topic_calls_raw, records)
        return CallsAccepted(accepted=batch.accepted, rejected=batch.rejected)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=None)
    async def readyz(state: State) -> dict[str, Any] | JSONResponse:
        return readiness(await run_in_threadpool(dependency_problems, state))

    return app


def dependency_problems(state: IngestState) -> list[str | None]:
    return [database_problem(state.engine), broker_problem(state.settings.kafka_bootstrap)]
