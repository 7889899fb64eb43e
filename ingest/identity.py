"""Who sent a request: the enrolled device behind a device token."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypedDict


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

    def envelope(self) -> Envelope:
        """Who said it: the identity fields of every device event (schemas.events.DeviceEvent)."""
        return {
            "company_id": self.company_id,
            "device_id": self.device_id,
            "employee_id": self.employee_id,
        }
