"""What every answer of both HTTP services carries: security headers, and CORS for the browser
origins an operator allows (none by default)."""

from __future__ import annotations

import json

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.errors import error_body

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
# Answers hold call data: never kept by a browser or a proxy. Documentation assets may be.
NO_STORE = (b"cache-control", b"no-store")
DOCS_ASSETS = "/docs-assets"  # Swagger UI and ReDoc files (fastapi-offline), same origin
CACHEABLE_PREFIXES = (DOCS_ASSETS + "/",)
# Every request body is limited while it is read (BodyLimit): small JSON routes get this; a
# route that takes more declares it as FastAPI's own `max_body_size` (uploads, imports).
JSON_BODY_LIMIT = 64 * 1024
# the phones' uploads: their reader (core/request_body.py) enforces CLOSECALL_MAX_BODY_BYTES
# (at most this) as it reads; this bounds the route itself
UPLOAD_BODY_CEILING = 16 * 1024 * 1024
# Swagger UI would fetch a validator badge from validator.swagger.io
OFFLINE_SWAGGER_UI = {"validatorUrl": None}


class HttpMiddleware:
    """A plain ASGI middleware of HTTP requests, anything else passed through (no per-request
    task, unlike BaseHTTPMiddleware: ingest's hot path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.handle(scope, receive, send)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class SecurityHeaders(HttpMiddleware):
    """The security headers, and no-store on everything but documentation assets."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        cacheable = scope["path"].startswith(CACHEABLE_PREFIXES)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name.lower() for name, _value in headers}
                headers += [h for h in SECURITY_HEADERS if h[0] not in names]
                if not cacheable and NO_STORE[0] not in names:
                    headers.append(NO_STORE)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


class BodyTooLarge(HTTPException):
    """Raised by the body's reader at the chunk that crosses the limit: the error handlers
    answer 413 `payload_too_large`."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, too_large_message(limit))


def too_large_message(limit: int) -> str:
    return f"the body is larger than {limit} bytes: send less"


class BodyLimit(HttpMiddleware):
    """Every request body within its route's limit, counted while it is read (chunked bodies
    included), so nothing past it is ever buffered: a declared `Content-Length` over it is
    refused before a byte is read, otherwise the reader gets BodyTooLarge at the chunk that
    crosses it. The limit is JSON_BODY_LIMIT unless the route declares `max_body_size`; the
    route is looked up only for a body past JSON_BODY_LIMIT, so small requests pay nothing.
    (FastAPI's own `max_body_size` enforcement answers a declared length with a plain-text
    413 from outside every middleware: no error shape, no security headers. Routes declare
    their limit there all the same, and it stays in force behind this.)"""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit: int | None = None
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > JSON_BODY_LIMIT:
            limit = route_limit(scope)
            if int(declared) > limit:
                await refuse(send, limit)
                return
        received = 0

        async def counted() -> Message:
            nonlocal received, limit
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > JSON_BODY_LIMIT:
                    limit = limit or route_limit(scope)
                    if received > limit:
                        raise BodyTooLarge(limit)
            return message

        await self.app(scope, counted, send)


def route_limit(scope: Scope) -> int:
    """The `max_body_size` the request's route declares, else JSON_BODY_LIMIT."""
    app = scope["app"]
    larger = getattr(app.state, "larger_bodies", None)
    if larger is None:  # once per application: the routes that declare a limit
        larger = app.state.larger_bodies = [
            (context.methods or frozenset(), compile_path(context.path or "")[0], limit)
            for context in iter_route_contexts(app.routes)
            if (limit := getattr(context.original_route, "max_body_size", None))
        ]
    for methods, pattern, limit in larger:
        if scope["method"] in methods and pattern.match(scope["path"]):
            return int(limit)
    return JSON_BODY_LIMIT


async def refuse(send: Send, limit: int) -> None:
    body = json.dumps(error_body("payload_too_large", too_large_message(limit))).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def install_http_policy(app: FastAPI, cors_origins: list[str]) -> None:
    app.add_middleware(BodyLimit)
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Content-Encoding"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
