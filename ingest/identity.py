"""Who sent a request: the enrolled device behind a device token."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict

from core.accounts.subscription import status_at


class Envelope(TypedDict):
    company_id: str
    device_id: str
    employee_id: str


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    device_id: str
    company_id: str
    employee_id: str
    tracking_enabled: bool
    # the company's subscription, as stored (API.md "Subscription"): uploads answer 402 once
    # it is deactivated
    status: str = "active"
    ended_at: datetime | None = None

    def active_at(self, now: datetime) -> bool:
        return status_at(self.status, self.ended_at, now) != "deactivated"

    def envelope(self) -> Envelope:
        """Who said it: the identity fields of every device event (schemas.events.DeviceEvent)."""
        return {
            "company_id": self.company_id,
            "device_id": self.device_id,
            "employee_id": self.employee_id,
        }
