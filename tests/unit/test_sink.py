"""The workers' sink (streams/sink.py) driven with plain events and a store that fails: the
order of its steps is the delivery guarantee, so each test watches that order."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.events import DeadLetter
from streams.decoding import UnprocessableRecord
from streams.sink import Sink


@dataclass
class Message:
    topic: str
    partition: int
    offset: int


@dataclass
class FakeEvent:
    """What the sink reads of a faust event: the value and where it came from."""

    value: bytes
    message: Message


def events(*values: bytes) -> list[Any]:
    return [FakeEvent(v, Message("calls.raw", 0, i)) for i, v in enumerate(values)]


@dataclass
class Recorder:
    """A processor writing into a list: b"bad..." is undecodable, b"refused..." is refused by
    the store, and the store fails `outages` times before it works."""

    log: list[str]
    outages: int = 0
    stored: list[bytes] = field(default_factory=list)
    name: str = "things"
    store_step: str = "store things"

    async def decode(self, value: bytes) -> bytes:
        if value.startswith(b"bad"):
            raise UnprocessableRecord("not a thing")
        return value

    async def store(self, batch: Sequence[tuple[Any, bytes]]) -> list[tuple[Any, str]]:
        if self.outages:
            self.outages -= 1
            self.log.append("store failed")
            raise ConnectionError("the store is down")
        kept = [(e, v) for e, v in batch if not v.startswith(b"refused")]
        self.stored.extend(v for _e, v in kept)
        self.log.append(f"stored {len(kept)}")
        return [(e, "refused") for e, v in batch if v.startswith(b"refused")]

    async def after_store(self, stored: Sequence[tuple[Any, bytes]]) -> None:
        self.log.append(f"after {len(stored)}")


def sink_of(processor: Recorder, dead: list[DeadLetter]) -> Sink[bytes]:
    async def publish(letters: list[DeadLetter]) -> None:
        dead.extend(letters)
        processor.log.append(f"dead {len(letters)}")

    async def commit() -> None:
        processor.log.append("commit")

    return Sink(processor, publish, commit)


@pytest.fixture(autouse=True)
def no_retry_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    real_sleep = asyncio.sleep
    monkeypatch.setattr("streams.retry.asyncio.sleep", lambda _s: real_sleep(0))


def handle(processor: Recorder, batch: list[Any], dead: list[DeadLetter]) -> list[Any]:
    acked: list[Any] = []

    async def ack(event: Any) -> None:
        processor.log.append("ack")
        acked.append(event)

    asyncio.run(sink_of(processor, dead).handle(batch, ack))
    return acked


def test_nothing_is_committed_before_the_store_has_the_batch() -> None:
    processor = Recorder(log=[], outages=3)
    batch = events(b"a", b"b")
    acked = handle(processor, batch, [])
    assert processor.log == [
        "store failed",
        "store failed",
        "store failed",
        "stored 2",
        "after 2",
        "dead 0",
        "ack",
        "ack",
        "commit",
    ]
    assert processor.stored == [b"a", b"b"] and acked == batch


def test_a_store_that_never_recovers_never_commits() -> None:
    processor = Recorder(log=[], outages=10**9)
    sink = sink_of(processor, [])

    async def ack(_event: Any) -> None:
        processor.log.append("ack")

    async def bounded() -> None:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(sink.handle(events(b"a"), ack), timeout=0.5)

    asyncio.run(bounded())
    assert set(processor.log) == {"store failed"}  # no ack, no commit, no dead letter


def test_undecodable_and_refused_records_are_dead_letters_and_the_rest_is_stored() -> None:
    dead: list[DeadLetter] = []
    processor = Recorder(log=[])
    batch = events(b"a", b"bad-1", b"refused-1", b"b")
    acked = handle(processor, batch, dead)
    assert processor.stored == [b"a", b"b"]
    assert [(d.offset, d.reason) for d in dead] == [(1, "not a thing"), (2, "refused")]
    assert acked == batch  # every record is done with: stored or set aside
    assert processor.log.index("dead 2") < processor.log.index("commit")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from([b"ok", b"bad", b"refused"]), max_size=12), st.integers(0, 3))
def test_every_record_is_stored_or_a_dead_letter_before_the_commit(
    kinds: list[bytes], outages: int
) -> None:
    dead: list[DeadLetter] = []
    processor = Recorder(log=[], outages=outages)
    batch = events(*(kind + b"-" + str(i).encode() for i, kind in enumerate(kinds)))
    acked = handle(processor, batch, dead)
    stored = set(processor.stored)
    letters = {d.offset for d in dead}
    assert all((e.value in stored) != (e.message.offset in letters) for e in batch)
    assert acked == batch and processor.log[-1] == "commit"
    assert processor.log.count("commit") == 1
