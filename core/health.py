"""Readiness of a service: which dependency is down, in the one error shape."""

from __future__ import annotations

import socket

import sqlalchemy as sa
from fastapi.responses import JSONResponse
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


def broker_problem(bootstrap: str) -> str | None:
    """None when some bootstrap server accepts a TCP connection, else what is wrong."""
    errors = []
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return None
        except OSError as exc:
            errors.append(f"{server}: {exc}")
    return f"Kafka unreachable ({'; '.join(errors)}); start the broker or fix CLOSECALL_KAFKA_BOOTSTRAP"


class Health(BaseModel):
    status: str = Field(description="`ok` (/healthz) or `ready` (/readyz)")


def readiness(problems: list[str | None]) -> Health | JSONResponse:
    down = [problem for problem in problems if problem]
    if down:
        return JSONResponse(error_body("not_ready", "not ready: " + "; ".join(down)), 503)
    return Health(status="ready")
