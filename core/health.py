"""Readiness of a service: which dependency is down, in the one error shape."""

from __future__ import annotations

import socket
import time
from importlib.metadata import version

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from kafka.errors import KafkaError
from kafka.protocol.old.api_versions import ApiVersionsRequest_v0
from kafka.protocol.parser import KafkaProtocol
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine

from core.errors import error_body


def database_problem(engine: Engine) -> str | None:
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        return f"control-plane database ({engine.url.render_as_string()}): {exc}"
    return None


BROKER_DEADLINE_S = 2.0


def broker_answers(host: str, port: int, deadline_s: float) -> None:
    """Ask the broker for its API versions (kafka-python's protocol encoder and decoder) and
    wait at most `deadline_s` for the answer: a broker that accepts connections but does not
    answer (stopped, overloaded) is down. OSError when it does not answer in time."""
    protocol = KafkaProtocol(client_id="closecall-readyz")
    protocol.send_request(ApiVersionsRequest_v0())
    ends = time.monotonic() + deadline_s
    with socket.create_connection((host, port), timeout=deadline_s) as sock:
        sock.sendall(protocol.send_bytes())
        while True:
            sock.settimeout(max(0.01, ends - time.monotonic()))
            data = sock.recv(65536)
            if not data:
                raise OSError("the broker closed the connection")
            if protocol.receive_bytes(data):
                return


def broker_problem(bootstrap: str) -> str | None:
    """None when some bootstrap server answers a request within BROKER_DEADLINE_S, else what
    is wrong."""
    errors = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            broker_answers(host, int(port), BROKER_DEADLINE_S)
            return None
        except (OSError, KafkaError) as exc:
            errors.append(f"{server}: {exc or type(exc).__name__}")
    return f"Kafka unreachable ({'; '.join(errors)}); start the broker or fix CLOSECALL_KAFKA_BOOTSTRAP"


class Health(BaseModel):
    status: str = Field(description="`ok` (/healthz) or `ready` (/readyz)")


class Release(BaseModel):
    version: str = Field(description="the running release, a semantic version (CHANGELOG.md)")


RELEASE = Release(version=version("closecall-backend"))


def process_router() -> APIRouter:
    """`/healthz` and `/version`, the same on ingest and the report API."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", response_model=Health)
    async def healthz() -> Health:
        """The process is up."""
        return Health(status="ok")

    @router.get("/version", response_model=Release)
    async def release() -> Release:
        """The release this process runs (the tagged image's version)."""
        return RELEASE

    return router


def readiness(problems: list[str | None]) -> Health | JSONResponse:
    down = [problem for problem in problems if problem]
    if down:
        return JSONResponse(error_body("not_ready", "not ready: " + "; ".join(down)), 503)
    return Health(status="ready")
