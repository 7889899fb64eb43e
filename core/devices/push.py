"""FCM data messages to phones, through firebase-admin: upload now (`sync`), fetch your leads
(`leads`).
Off (with one log line) when no Firebase credentials are configured."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import firebase_admin
from firebase_admin import credentials, exceptions, messaging

from core.metrics import FCM_PUSHES
from core.settings import Settings

log = logging.getLogger(__name__)
SYNC_DATA = {"action": "sync"}
LEADS_DATA = {"action": "leads"}


class PushOutcome(StrEnum):
    SENT = "sent"
    UNREGISTERED = "unregistered"  # the token is dead: record it, never retry it
    FAILED = "failed"  # FCM or the network failed: a later attempt may work
    DISABLED = "disabled"


@dataclass
class SyncPusher:
    """Sends a data message to one device token; `app` is None when FCM is off."""

    app: Any | None

    @property
    def enabled(self) -> bool:
        return self.app is not None

    def push_sync(self, token: str) -> PushOutcome:
        return self.push(token, SYNC_DATA)

    def push(self, token: str, data: dict[str, str]) -> PushOutcome:
        outcome = self._send(token, data)
        FCM_PUSHES.labels(data.get("action", ""), outcome.value).inc()
        return outcome

    def _send(self, token: str, data: dict[str, str]) -> PushOutcome:
        if self.app is None:
            return PushOutcome.DISABLED
        message = messaging.Message(
            data=data, token=token, android=messaging.AndroidConfig(priority="high")
        )
        try:
            messaging.send(message, app=self.app)
        except messaging.UnregisteredError:
            return PushOutcome.UNREGISTERED
        except (exceptions.FirebaseError, ValueError) as exc:
            log.warning("FCM push failed: %s", type(exc).__name__)
            return PushOutcome.FAILED
        return PushOutcome.SENT


def firebase_app(credential: credentials.Base, project_id: str) -> Any:
    return firebase_admin.initialize_app(
        credential, {"projectId": project_id}, name=f"closecall-{uuid.uuid4().hex[:8]}"
    )


def pusher_from_settings(settings: Settings) -> SyncPusher:
    if not settings.fcm_credentials_file:
        log.info("FCM pushes are off: set CLOSECALL_FCM_CREDENTIALS_FILE to a service-account JSON")
        return SyncPusher(app=None)
    credential = credentials.Certificate(str(settings.fcm_credentials_file))
    return SyncPusher(
        app=firebase_app(credential, settings.fcm_project_id or credential.project_id)
    )
