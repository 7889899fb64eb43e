"""What every answer of both HTTP services carries: security headers, and CORS for the browser
origins an operator allows (none by default)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
# Answers hold call data: never kept by a browser or a proxy. Documentation assets may be.
NO_STORE = (b"cache-control", b"no-store")
DOCS_ASSETS = "/docs-assets"  # Swagger UI and ReDoc files (fastapi-offline), same origin
CACHEABLE_PREFIXES = (DOCS_ASSETS + "/",)
# Swagger UI would fetch a validator badge from validator.swagger.io
OFFLINE_SWAGGER_UI = {"validatorUrl": None}


class SecurityHeaders:
    """A plain ASGI middleware (no per-request task, unlike BaseHTTPMiddleware: ingest's hot path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
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


def install_http_policy(app: FastAPI, cors_origins: list[str]) -> None:
    if cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Content-Encoding"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
