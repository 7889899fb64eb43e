"""Who gets the next lead: round robin continuing after the company's last assignment, or the
candidate with the fewest leads in status `new` (ties by employee id). Plain functions of the
candidates; the caller persists `RoundRobin.last` and holds the company's lead lock meanwhile."""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol


class Assigner(Protocol):
    def next(self) -> str | None:
        """The employee of the next lead; None when nobody can take one."""


@dataclass
class RoundRobin:
    """Candidates in id order, each in turn after `last` (the previous assignee, who may no
    longer be a candidate): an employee present throughout gets at most one lead more than any
    other such employee, however assignments are split into batches."""

    candidates: list[str]
    last: str | None = None

    def __post_init__(self) -> None:
        self.candidates = sorted(set(self.candidates))

    def next(self) -> str | None:
        if not self.candidates:
            return None
        at = bisect_right(self.candidates, self.last) if self.last is not None else 0
        self.last = self.candidates[at % len(self.candidates)]
        return self.last


@dataclass
class LeastLoaded:
    """The candidate with the fewest leads in status `new`, ties by employee id; each lead
    given counts as a new one of theirs."""

    loads: Mapping[str, int]
    _heap: list[tuple[int, str]] = field(init=False)

    def __post_init__(self) -> None:
        self._heap = [(load, employee) for employee, load in self.loads.items()]
        heapq.heapify(self._heap)

    def next(self) -> str | None:
        if not self._heap:
            return None
        load, employee = self._heap[0]
        heapq.heapreplace(self._heap, (load + 1, employee))
        return employee


class Nobody:
    def next(self) -> str | None:
        return None


def new_lead_loads(candidates: Iterable[str], new_leads_of: Mapping[str, int]) -> dict[str, int]:
    return {employee: new_leads_of.get(employee, 0) for employee in candidates}
