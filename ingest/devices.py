"""Device enrollment (code -> device token) and device-token authentication with a short cache,
so the upload hot path does no database work for a known device."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from cachetools import TTLCache
from sqlalchemy.engine import Connection, Engine

from core.controlplane import companies, device_tokens, devices, employees, enrollment_codes
from core.errors import Conflict, Forbidden, Unauthorized
from core.tokens import digest, new_secret, normalise_enrollment_code
from ingest.identity import DeviceIdentity
from schemas.payloads import DeviceInfo

DEVICE_TOKEN_PREFIX = "cc_dev"


def enroll_device(
    db: Connection, code: str, device: DeviceInfo, now: datetime
) -> tuple[str, DeviceIdentity, list[str]]:
    """Consume a single-use code; create or re-bind the device; revoke its older tokens.
    An employee without tracking gets a 403; a device of another employee that is not revoked
    a 409 (nothing is consumed then: the transaction rolls back).
    Returns the new token, the identity and the digests of the tokens it revoked."""
    grant = _claim_code(db, code, now)
    _check_tracking(db, grant.employee_id)
    device_id, revoked = _bind_device(db, grant, device, now)
    token = new_secret(DEVICE_TOKEN_PREFIX)
    db.execute(
        device_tokens.insert().values(token_hash=digest(token), device_id=device_id, created_at=now)
    )
    identity = DeviceIdentity(
        device_id=device_id,
        company_id=grant.company_id,
        employee_id=grant.employee_id,
        tracking_enabled=True,
    )
    return token, identity, revoked


@dataclass(frozen=True, slots=True)
class Grant:
    """What an enrollment code grants: a phone for this employee of this company."""

    company_id: str
    employee_id: str


def _claim_code(db: Connection, code: str, now: datetime) -> Grant:
    """The code used up (one conditional update: two phones cannot both use it); its company
    and employee."""
    code_hash = digest(normalise_enrollment_code(code))
    claimed = db.execute(
        enrollment_codes.update()
        .where(
            enrollment_codes.c.code_hash == code_hash,
            enrollment_codes.c.used_at.is_(None),
            enrollment_codes.c.expires_at > now,
        )
        .values(used_at=now)
    )
    if claimed.rowcount != 1:
        raise Unauthorized(
            "invalid_enrollment_code",
            "the enrollment code is unknown, already used or expired; ask for a new one",
            [("code", "unknown, used or expired")],
        )
    row = db.execute(
        sa.select(enrollment_codes.c.company_id, enrollment_codes.c.employee_id).where(
            enrollment_codes.c.code_hash == code_hash
        )
    ).one()
    return Grant(company_id=row.company_id, employee_id=row.employee_id)


def _check_tracking(db: Connection, employee_id: str) -> None:
    employee = db.execute(
        sa.select(employees.c.tracking_enabled, employees.c.archived_at).where(
            employees.c.id == employee_id
        )
    ).one()
    if employee.archived_at is not None or not employee.tracking_enabled:
        raise Forbidden(
            "tracking_disabled",
            "tracking is disabled for this employee (or they were archived); ask a manager",
        )


def _details(device: DeviceInfo, employee_id: str, now: datetime) -> dict[str, Any]:
    return {
        "employee_id": employee_id,
        "brand": device.brand,
        "model": device.model,
        "android_version": device.android_version,
        "sdk_int": device.sdk_int,
        "app_version": device.app_version,
        "app_version_code": device.app_version_code,
        "fcm_token": device.fcm_token,
        # the SIM's own number is not kept: slot, id and carrier attribute calls
        "sims": json.dumps([sim.model_dump(exclude={"number"}) for sim in device.sims]),
        "enrolled_at": now,
        "revoked_at": None,
    }


def _bind_device(
    db: Connection, grant: Grant, device: DeviceInfo, now: datetime
) -> tuple[str, list[str]]:
    """The device record created, or re-bound with its live tokens revoked: its id and the
    digests of those tokens."""
    details = _details(device, grant.employee_id, now)
    existing = db.execute(
        sa.select(devices.c.id, devices.c.employee_id, devices.c.revoked_at).where(
            devices.c.company_id == grant.company_id, devices.c.hardware_id == device.device_id
        )
    ).first()
    if existing is None:
        device_id = str(uuid.uuid4())
        db.execute(
            devices.insert().values(
                id=device_id, company_id=grant.company_id, hardware_id=device.device_id, **details
            )
        )
        return device_id, []
    if existing.employee_id != grant.employee_id and existing.revoked_at is None:
        # A code of one's own plus a colleague's hardware id must not take the colleague's
        # phone record over: a phone changes hands only after a manager revoked it.
        raise Conflict(
            "device_enrolled_elsewhere",
            "this phone is enrolled for another employee; a manager must revoke it first "
            "(DELETE /v1/devices/{id}) or archive that employee",
            [("device.device_id", "enrolled for another employee")],
        )
    db.execute(devices.update().where(devices.c.id == existing.id).values(**details))
    live = (device_tokens.c.device_id == existing.id, device_tokens.c.revoked_at.is_(None))
    revoked = list(db.execute(sa.select(device_tokens.c.token_hash).where(*live)).scalars())
    db.execute(device_tokens.update().where(*live).values(revoked_at=now))
    return existing.id, revoked


def lookup_device(db: Connection, token_hash: str) -> DeviceIdentity | None:
    row = db.execute(
        sa.select(
            devices.c.id,
            devices.c.company_id,
            devices.c.employee_id,
            employees.c.tracking_enabled,
            companies.c.status,
            companies.c.ended_at,
        )
        .select_from(
            device_tokens.join(devices)
            .join(employees)
            .join(companies, companies.c.id == devices.c.company_id)
        )
        .where(device_tokens.c.token_hash == token_hash, device_tokens.c.revoked_at.is_(None))
    ).first()
    if row is None:
        return None
    return DeviceIdentity(
        device_id=row.id,
        company_id=row.company_id,
        employee_id=row.employee_id,
        tracking_enabled=bool(row.tracking_enabled),
        status=row.status,
        ended_at=row.ended_at,
    )


# tokens revoked this long before the previous sweep are looked for again: a revocation's
# timestamp is taken before its transaction commits, and by another process's clock
SWEEP_OVERLAP = timedelta(seconds=10)
MAX_CACHED_TOKENS = 1_000_000  # phones' identities cached at once (a few hundred bytes each)


class DeviceAuthenticator:
    """Token digest -> identity, cached for `ttl_s`. A revocation evicts the token within a
    second wherever it was made: `sweep` (each second, ingest's lifespan task) drops the tokens
    revoked since the last sweep; enrollment evicts the tokens it revokes at once."""

    def __init__(self, engine: Engine, ttl_s: float) -> None:
        self._engine = engine
        self._cache: TTLCache[str, DeviceIdentity] = TTLCache(MAX_CACHED_TOKENS, ttl_s)
        self._lock = threading.Lock()  # read on the loop, filled from the thread pool
        self._swept_at: datetime | None = None

    def sweep(self, now: datetime) -> int:
        """Evict the tokens revoked since the previous sweep; how many were cached."""
        since = self._swept_at
        if since is None or not self._cache:  # what is cached later is looked up after now
            self._swept_at = now
            return 0
        with self._engine.connect() as db:
            revoked = list(
                db.execute(
                    sa.select(device_tokens.c.token_hash).where(
                        device_tokens.c.revoked_at >= since - SWEEP_OVERLAP
                    )
                ).scalars()
            )
        evicted = self.evict(revoked)
        self._swept_at = now  # only once it worked: a failed sweep's span is covered next time
        return evicted

    def authenticate(self, token: str) -> DeviceIdentity | None:
        token_hash = digest(token)
        hit = self.cached_digest(token_hash)
        if hit is not None:
            return hit
        with self._engine.connect() as db:
            identity = lookup_device(db, token_hash)
        with self._lock:
            if identity is None:
                self._cache.pop(token_hash, None)
            else:
                self._cache[token_hash] = identity
        return identity

    def cached(self, token: str) -> DeviceIdentity | None:
        return self.cached_digest(digest(token))

    def cached_digest(self, token_hash: str) -> DeviceIdentity | None:
        with self._lock:
            return self._cache.get(token_hash)

    def evict(self, token_hashes: list[str]) -> int:
        """Drop these tokens; how many were cached."""
        with self._lock:
            return sum(self._cache.pop(token_hash, None) is not None for token_hash in token_hashes)
