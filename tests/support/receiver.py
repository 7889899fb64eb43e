"""A customer's webhook endpoint: a real HTTP server on 127.0.0.1 that records every request
and answers what the test says (status, headers, a delay), and can go down and come back."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from deploy.local_stack import free_port


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    method: str = "POST"
    status: int = 0  # what the receiver answered
    answered: bool = False  # the answer was written to the socket

    @property
    def webhook_id(self) -> str:
        return self.headers["webhook-id"]

    def same_delivery(self, other: Received) -> bool:
        """The same event to the same hook (the event's id is the same for every hook)."""
        return (self.path, self.headers.get("webhook-id")) == (
            other.path,
            other.headers.get("webhook-id"),
        )

    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, dict[str, str]]
Responder = Callable[[Received, int], Answer]  # (request, how many times this id came) -> answer


def always_ok(_request: Received, _seen: int) -> Answer:
    return 200, {}


def no_body(_request: Received) -> bytes:
    return b""


@dataclass
class Receiver:
    responder: Responder = always_ok
    reply: Callable[[Received], bytes] = no_body  # the answer's body (a stub API's JSON)
    delay_s: float = 0.0
    port: int = field(default_factory=free_port)
    requests: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = self.rfile.read(length)
                if len(body) < length:  # the sender died mid-request: no endpoint acts on it
                    self.close_connection = True
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                request = Received(self.path, headers, body, method=self.command)
                with receiver.lock:
                    receiver.requests.append(request)
                    seen = sum(1 for r in receiver.requests if r.same_delivery(request))
                if receiver.delay_s:
                    time.sleep(receiver.delay_s)
                status, headers = receiver.responder(request, seen)
                answer = receiver.reply(request)
                request.status = status
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
                self.wfile.flush()
                request.answered = True

            do_GET = do_POST  # a stub API's reads (no body)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Down: the port refuses connections until `start` again."""
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    def received(self, path: str | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.requests if path is None or r.path == path]

    def delivered(self, path: str | None = None) -> Counter[str]:
        """webhook-id -> how many times it was answered with a 2xx."""
        return Counter(
            r.webhook_id for r in self.received(path) if r.answered and 200 <= r.status < 300
        )
