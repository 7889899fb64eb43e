"""What every ingest route needs: the process state, the calling device, body parsing, rate
limits and producing to Kafka with the 503 that tells the phone to come back."""

from __future__ import annotations

import logging
import time
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request, Security
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ValidationError
from sqlalchemy.engine import Engine

from core.bearer import Credentials, bearer_scheme, bearer_token
from core.clock import utc_now
from core.errors import ApiError, validation_fields
from core.metrics import KAFKA_PRODUCE_FAILURES, KAFKA_PRODUCE_LATENCY
from core.number_crypto import MasterKey
from core.rate_limit import RateLimiter, enforce
from core.request_body import read_json_body
from core.settings import Settings
from ingest.devices import DeviceAuthenticator
from ingest.identity import DeviceIdentity
from ingest.kafka_producer import AckingProducer, BrokerUnavailable
from schemas.agent_contract import inline_schema

log = logging.getLogger(__name__)


class IngestState:
    def __init__(self, settings: Settings, engine: Engine, master_key: MasterKey) -> None:
        self.settings = settings
        self.engine = engine
        self.master_key = master_key  # the phones' lead numbers are decrypted here
        self.producer = AckingProducer(settings.kafka_bootstrap, settings.kafka_ack_timeout_ms)
        self.devices = DeviceAuthenticator(engine, settings.device_cache_ttl_s)
        self.rate_limiter = RateLimiter(settings.device_rate_per_s, settings.device_rate_burst)


def state_of(request: Request) -> IngestState:
    state: IngestState = request.app.state.ingest
    return state


State = Annotated[IngestState, Depends(state_of)]


DEVICE_TOKEN = bearer_scheme("DeviceToken", "the token enrolment answered (`cc_dev_...`)")


async def current_device(
    credentials: Annotated[Credentials, Security(DEVICE_TOKEN)], state: State
) -> DeviceIdentity:
    token = bearer_token(credentials, "the device token")
    device = state.devices.cached(token) or await run_in_threadpool(
        state.devices.authenticate, token
    )
    if device is None:
        raise ApiError(
            401, "invalid_device_token", "the device token is unknown or revoked; enrol again"
        )
    if not device.tracking_enabled:
        raise ApiError(403, "tracking_disabled", "tracking is disabled for this employee")
    if not device.active_at(utc_now()):
        raise ApiError(
            402,
            "subscription_inactive",
            "the company's subscription ended: nothing is accepted until it is reactivated",
        )
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


def limit_rate(state: IngestState, device: DeviceIdentity) -> None:
    enforce(state.rate_limiter, device.device_id, "uploads from this device")


async def body_as(model: type[Model], request: Request, state: IngestState) -> Model:
    return parse(model, await read_json_body(request, state.settings.max_body_bytes))


async def produce(state: IngestState, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    started = time.perf_counter()
    try:
        await state.producer.send_all(topic, records)
    except BrokerUnavailable as exc:
        KAFKA_PRODUCE_FAILURES.labels(topic).inc()
        log.warning("upload refused with 503: %s", exc)
        raise ApiError(
            503,
            "broker_unavailable",
            "uploads are paused; nothing of this upload was accepted, retry later",
            headers={"Retry-After": str(state.settings.retry_after_s)},
        ) from exc
    KAFKA_PRODUCE_LATENCY.labels(topic).observe(time.perf_counter() - started)
