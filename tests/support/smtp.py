"""A real SMTP server (aiosmtpd) on a free port that keeps what it receives. It can answer a
recipient's first message with a transient 451 (`refuse_once`) and hold one recipient's first
message before answering (`hold`) until the test releases it: a message whose sender is gone by
then (its connection closed) is not kept, as a real server does not deliver a message it never
acknowledged."""

from __future__ import annotations

import asyncio
import email
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller

from deploy.local_stack import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.refuse_once: set[str] = set()
        self.refused: list[str] = []
        self.hold: set[str] = set()
        self.holding = threading.Event()  # a held message waits for `release`
        self.release = threading.Event()
        self.dropped: list[str] = []  # held messages whose sender left before the answer

    async def handle_DATA(self, server: Any, _session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default)
        to = str(message["To"])
        if to in self.refuse_once:
            self.refuse_once.discard(to)
            self.refused.append(to)
            return "451 4.3.0 try again later"
        if to in self.hold:
            self.hold.discard(to)
            self.holding.set()
            try:
                await asyncio.get_running_loop().run_in_executor(None, self.release.wait)
            except asyncio.CancelledError:  # aiosmtpd cancels a session whose client left
                self.dropped.append(to)
                raise
            if server.transport is None or server.transport.is_closing():
                self.dropped.append(to)
                return "451 4.4.2 the client left"
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


@contextmanager
def smtp_server() -> Iterator[tuple[str, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{controller.port}", inbox
    finally:
        inbox.release.set()
        controller.stop()
