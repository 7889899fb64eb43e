"""The one error shape of both HTTP services:
{"error": {"code", "message", "fields": [{"path", "message"}]}}, and the handlers that produce it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)


class ErrorField(BaseModel):
    path: str = Field(description="the field, e.g. `calls[3].started_at` or `tz`")
    message: str


class ErrorDetail(BaseModel):
    code: str = Field(description="stable, for programs: e.g. invalid_request, rate_limited")
    message: str = Field(description="for people: what is wrong and how to fix it")
    fields: list[ErrorField]


class ErrorBody(BaseModel):
    """The one error shape of both services."""

    error: ErrorDetail


ERROR_MEANINGS = {
    400: "the request cannot be read or its signature does not verify",
    401: "the credential is missing, unknown or revoked",
    402: "the plan or the subscription does not include this",
    403: "the credential may not do this",
    404: "no such object in the caller's company",
    405: "method not allowed (see `Allow`)",
    409: "conflicts with the current state",
    413: "too large",
    415: "unsupported Content-Encoding",
    422: "a field is invalid: `fields` names each one",
    429: "too many requests: retry after `Retry-After` seconds",
    502: "an upstream service did not take the request",
    503: "a dependency is down: retry after `Retry-After` seconds",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these statuses, each with the real error shape (FastAPI's own
    422 `{detail}` document is replaced by it)."""
    return {
        status: {"model": ErrorBody, "description": ERROR_MEANINGS[status]} for status in statuses
    }


HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


class DomainError(Exception):
    """What code below the routes raises when a request cannot be done: the class carries the
    status, the instance a stable code, a message for people and the fields at fault; one
    handler (install_error_handlers) writes the one error shape for every class."""

    status = 422

    def __init__(
        self,
        code: str,
        message: str,
        fields: Sequence[tuple[str, str]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = list(fields)
        self.headers = headers


class Unauthorized(DomainError):
    status = 401


class PaymentRequired(DomainError):
    status = 402


class Forbidden(DomainError):
    status = 403


class NotFound(DomainError):
    status = 404


class Conflict(DomainError):
    status = 409


class TooLarge(DomainError):
    status = 413


class UnsupportedEncoding(DomainError):
    status = 415


class Invalid(DomainError):
    status = 422


class TooManyRequests(DomainError):
    status = 429


class UpstreamRefused(DomainError):
    status = 502


class Unavailable(DomainError):
    status = 503


class ApiError(DomainError):
    """At the edge (dependencies, routes, middleware): any status, said where it is raised."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        fields: Sequence[tuple[str, str]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(code, message, fields, headers)
        self.status = status


def error_body(code: str, message: str, fields: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "fields": [{"path": path, "message": msg} for path, msg in fields],
        }
    }


def error_path(location: Sequence[int | str]) -> str:
    """("body", "calls", 3, "type") -> "calls[3].type"; the transport prefix is dropped."""
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def validation_fields(errors: Sequence[Any]) -> list[tuple[str, str]]:
    return [(error_path(err["loc"]), clean_message(err["msg"])) for err in errors]


def clean_message(message: str) -> str:
    return message.removeprefix("Value error, ")


def invalid_json(message: str) -> JSONResponse:
    """Malformed JSON: the same 422 `invalid_json` on both services, whoever parsed the body
    (core/request_body.py for ingest's uploads, FastAPI for every other route)."""
    return JSONResponse(error_body("invalid_json", message), 422)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _domain_error(_request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(
            error_body(exc.code, exc.message, exc.fields), exc.status, headers=exc.headers
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(err.get("type") == "json_invalid" for err in errors):
            return invalid_json(f"the body is not valid JSON: {errors[0]['ctx']['error']}")
        fields = validation_fields(errors)
        return JSONResponse(error_body("invalid_request", "the request is invalid", fields), 422)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:  # FastAPI could not read the body (not UTF-8, say)
            return invalid_json("the body is not valid JSON (UTF-8)")
        code = HTTP_CODES.get(exc.status_code, "http_error")

        # Starlette's 405 carries `Allow`
        return JSONResponse(error_body(code, str(exc.detail)), exc.status_code, exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error: %s", type(exc).__name__)
        return JSONResponse(error_body("internal_error", "internal server error"), 500)
