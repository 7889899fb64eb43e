"""FCM for tests: firebase-admin with a static-token credential; the HTTP layer is stubbed with
`responses` at FCM's real URL, so the request firebase-admin builds is checked exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import google.oauth2.credentials
from firebase_admin import credentials

from core.devices.push import SyncPusher, firebase_app

PROJECT = "closecall-test"
FCM_URL = f"https://fcm.googleapis.com/v1/projects/{PROJECT}/messages:send"
UNREGISTERED_BODY = {
    "error": {
        "code": 404,
        "message": "Requested entity was not found.",
        "status": "NOT_FOUND",
        "details": [
            {
                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                "errorCode": "UNREGISTERED",
            }
        ],
    }
}


class StaticToken(credentials.Base):  # type: ignore[misc]  # google-auth has no annotations
    """A credential that yields a fixed bearer token (no Google sign-in from tests)."""

    def get_credential(self) -> google.oauth2.credentials.Credentials:
        return google.oauth2.credentials.Credentials(
            "static-access-token",
            expiry=datetime.now(UTC).replace(tzinfo=None) + timedelta(hours=1),
        )


def stub_pusher() -> SyncPusher:
    return SyncPusher(app=firebase_app(StaticToken(), PROJECT))
