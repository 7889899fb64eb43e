"""Realistic call logs for tests, with what each call means (its client), and a reference
computation of the basic counts of METRICS.md that shares no code with the product."""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from deploy.fleet import indian_mobile_forms
from tests.support.metrics_reference import TYPES

TYPE_NAMES = list(TYPES)
ANDROID_CODES = {name: code for code, name in enumerate(TYPE_NAMES, start=1)}


@dataclass(frozen=True)
class Call:
    id: str
    client: int | None  # index into the client pool; None: no usable number
    number: str
    name: str | None
    type: str
    started_at: datetime
    duration_s: int
    send_code: bool  # send the Android code instead of the name

    def wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "number": self.number,
            "type": ANDROID_CODES[self.type] if self.send_code else self.type,
            "started_at": self.started_at.isoformat(),
            "duration_s": self.duration_s,
        }
        if self.name:
            body["name"] = self.name
        return body


def client_pool(rng: random.Random, size: int) -> list[str]:
    return [f"{rng.choice('6789')}{rng.randrange(10**8, 10**9)}" for _ in range(size)]


def written(rng: random.Random, digits: str) -> str:
    """One of the ways an Indian mobile number shows up in a call log."""
    return rng.choice(indian_mobile_forms(digits))


def realistic_calls(
    rng: random.Random, count: int, day_start: datetime, pool: list[str], prefix: str = "c"
) -> list[Call]:
    calls = []
    for index in range(count):
        call_type = rng.choices(TYPE_NAMES, [25, 45, 15, 2, 8, 3, 2])[0]
        private = rng.random() < 0.04
        client = None if private else rng.randrange(len(pool))
        connectable = call_type in ("incoming", "outgoing")
        duration = rng.randrange(1, 900) if connectable and rng.random() < 0.75 else 0
        calls.append(
            Call(
                id=f"{prefix}{index}",
                client=client,
                number=rng.choice(["", "-2", "PRIVATE"])
                if client is None
                else written(rng, pool[client]),
                name=rng.choice([None, "Ravi", "Priya K", "Dr. Mehta"]),
                type=call_type,
                started_at=day_start + timedelta(seconds=rng.randrange(0, 10 * 3600)),
                duration_s=duration,
                send_code=rng.random() < 0.3,
            )
        )
    return calls


def corrected(call: Call, duration_s: int) -> Call:
    return replace(call, duration_s=duration_s)


def expected_counts(calls: list[Call]) -> dict[str, Any]:
    """The basic counts of METRICS.md, computed naively from the final version of each call."""
    final = {call.id: call for call in calls}.values()
    connected = [c for c in final if c.type in ("incoming", "outgoing") and c.duration_s > 0]
    talk = sum(c.duration_s for c in connected)
    counts: dict[str, Any] = {
        "total_calls": len(final),
        **{name: sum(1 for c in final if c.type == name) for name in TYPE_NAMES},
        "connected": len(connected),
        "unanswered_outgoing": sum(1 for c in final if c.type == "outgoing" and c.duration_s == 0),
        "talk_time_s": talk,
        "unique_clients": len({c.client for c in final if c.client is not None}),
    }
    counts["avg_talk_s"] = round(talk / len(connected), 2) if connected else 0
    return counts
