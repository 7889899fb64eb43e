"""Accounts: creating a company with its owner and first key, issuing, listing and revoking API
keys, company settings; the logic behind api/accounts/routes.py."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

import phonenumbers
import pytz
import sqlalchemy as sa
from pydantic import AfterValidator, BaseModel, EmailStr, Field
from sqlalchemy.engine import Connection

from api.auth.passwords import NewPassword
from core.accounts.subscription import Status, company_status, status_at
from core.audit import Actor, record
from core.calls.client_states import EPOCH
from core.clock import utc_now
from core.controlplane import Company, api_keys, companies, users
from core.errors import Conflict, Invalid, NotFound
from core.notices import policies
from core.number_crypto import MasterKey, new_wrapped_data_key
from core.reports.range import RangeError, parse_zone
from core.tokens import digest, new_secret

API_KEY_PREFIX = "cc_live"


def known_country(value: str) -> str:
    value = value.upper()
    if value not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown country code {value!r}: use ISO 3166-1 alpha-2, e.g. IN")
    return value


def known_zone(value: str) -> str:
    try:
        parse_zone(value, "timezone")
    except RangeError as exc:
        raise ValueError(str(exc)) from None
    return value


Country = Annotated[
    str,
    Field(min_length=2, max_length=2, description="ISO 3166-1 alpha-2"),
    AfterValidator(known_country),
]
Zone = Annotated[str, AfterValidator(known_zone)]


class SignupRequest(BaseModel):
    company_name: str = Field(min_length=1, max_length=200)
    country: Country
    timezone: Zone | None = Field(default=None, description="IANA zone; default: the country's")
    email: EmailStr
    password: NewPassword
    plan: Literal["basic", "basic_lead"] = "basic"
    accepted_policies: dict[Literal["privacy", "terms"], str] | None = Field(
        default=None,
        description="the privacy policy and terms versions accepted (`GET /v1/policies` lists "
        "those in force); required once the operator has published one",
    )
    age_confirmed: bool = Field(
        default=False, description="the person signing up is 18 or older; required likewise"
    )


class SignupResponse(BaseModel):
    company_id: str
    user_id: str
    api_key: str


KeyRole = Literal["admin", "manager", "viewer"]  # never owner


class ApiKeyRequest(BaseModel):
    name: str = Field(default="API key", min_length=1, max_length=200)
    role: KeyRole = Field(default="admin", description="what the key may do; never `owner`")


class ApiKeyView(BaseModel):
    id: str
    name: str
    prefix: str
    role: KeyRole
    created_at: datetime
    revoked_at: datetime | None


class MeCompany(BaseModel):
    id: str
    name: str
    plan: str
    status: Status = Field(description='the subscription (API.md "Subscription")')
    timezone: str
    privacy_contact: str | None = Field(
        description="who answers privacy questions for the company: `Name <email>`"
    )


class MeKey(BaseModel):
    id: str
    name: str
    role: KeyRole


class MeUser(BaseModel):
    id: str
    email: str
    role: str
    totp: bool = Field(description="two-factor sign-in (TOTP) is on")


class PolicyOut(BaseModel):
    kind: Literal["privacy", "terms"]
    version: str
    url: str = Field(description="where the text of this version is")


class MeServer(BaseModel):
    """What this server can do, so a page hides or explains what cannot work here."""

    push: bool = Field(description="FCM is set up: `POST /v1/devices/{id}/sync` can reach phones")
    mail: bool = Field(description="email goes out: invitations and password resets")


class Me(BaseModel):
    """Who is calling: an integration's auth test and connection label."""

    company: MeCompany
    user: MeUser | None = Field(description="the signed-in user; null for an API key")
    api_key: MeKey | None = Field(description="the API key; null for a signed-in user")
    server: MeServer
    pending_policies: list[PolicyOut] = Field(
        description="versions in force the user has not accepted: until they are, the user's "
        "sessions answer 403 `policy_acceptance_required` (POST /v1/me/policies/{kind}/accept)"
    )


class ApiKeyCreated(ApiKeyView):
    secret: str = Field(description="shown once; store it now")


def default_zone(country: str) -> str:
    zones = pytz.country_timezones.get(country)
    return zones[0] if zones else "UTC"


def issue_api_key(db: Connection, company_id: str, name: str, role: KeyRole) -> ApiKeyCreated:
    secret = new_secret(API_KEY_PREFIX)
    view = ApiKeyCreated(
        id=str(uuid.uuid4()),
        name=name,
        prefix=secret[: len(API_KEY_PREFIX) + 5],
        role=role,
        created_at=utc_now(),
        revoked_at=None,
        secret=secret,
    )
    db.execute(
        api_keys.insert().values(
            id=view.id,
            company_id=company_id,
            name=name,
            prefix=view.prefix,
            secret_hash=digest(secret),
            created_at=view.created_at,
            role=role,
        )
    )
    return view


class ApiKeyList(BaseModel):
    items: list[ApiKeyView]


class CompanySettings(BaseModel):
    """What PATCH /v1/company changes; a field left out stays as it is."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    country: Country | None = Field(
        default=None, description="how numbers without a country code are read from now on"
    )
    timezone: Zone | None = Field(
        default=None, description="IANA zone: the days of every report and the times shown"
    )
    privacy_contact_name: str | None = Field(default=None, max_length=200)
    privacy_contact_email: EmailStr | None = Field(
        default=None, description="who answers privacy requests (a grievance officer)"
    )

    stale_after_s: int | None = Field(
        default=None, ge=300, le=30 * 86400, description="a device is stale after this much silence"
    )
    plan: Literal["basic", "basic_lead"] | None = Field(
        default=None, description="applies at once (owner); leads answer 402 on `basic`"
    )
    retention_days: int | None = Field(
        default=None,
        ge=30,
        le=36500,
        description="calls, statuses and contacts older than this are deleted daily (owner); "
        "null keeps everything",
    )

    rep_digests: bool | None = Field(
        default=None,
        description="each employee with an email gets their own calls of the day before at "
        "08:00 (the company's zone), with one-click unsubscribe",
    )

    def owner_fields(self) -> list[str]:
        return sorted(OWNER_FIELDS & self.model_fields_set)


# what only the owner changes; the rest (stale_after_s) an admin may
OWNER_FIELDS = {
    "plan",
    "retention_days",
    "name",
    "country",
    "timezone",
    "privacy_contact_name",
    "privacy_contact_email",
}
NEVER_NULL = ("stale_after_s", "plan", "name", "country", "timezone", "rep_digests")


class CompanyView(BaseModel):
    id: str
    name: str
    country: str
    timezone: str
    privacy_contact_name: str | None
    privacy_contact_email: str | None
    plan: Literal["basic", "basic_lead"]
    status: Status
    period_end: datetime | None
    retention_days: int | None
    stale_after_s: int
    rep_digests: bool = Field(description="employees with an email get their own digest")


def create_company(
    db: Connection,
    body: SignupRequest,
    password_hash: str,
    master_key: MasterKey,
    now: datetime,
    ip: str,
) -> SignupResponse:
    """A company with its owner (the signing-up user, `password_hash` of their password) and a
    first API key; once the operator published policy versions, the owner's acceptance of
    them and the age attestation (422 without), both audited."""
    email = body.email.lower()
    if db.execute(sa.select(users.c.id).where(users.c.email == email)).first():
        raise Conflict("email_taken", "an account with this email exists", [("email", "taken")])
    accepted = {str(kind): version for kind, version in (body.accepted_policies or {}).items()}
    lacking = policies.check_signup(db, accepted, body.age_confirmed)
    if lacking:
        raise Invalid("invalid_request", lacking[0][1], lacking)
    company_id, user_id = str(uuid.uuid4()), str(uuid.uuid4())
    zone = body.timezone or default_zone(body.country)
    db.execute(
        companies.insert().values(
            id=company_id,
            name=body.company_name,
            country=body.country,
            timezone=zone,
            rollup_zone=zone,  # no calls yet: their days, hours and client states are complete
            client_states_from=EPOCH,
            plan=body.plan,
            wrapped_data_key=new_wrapped_data_key(master_key, company_id),
            created_at=now,
        )
    )
    db.execute(
        users.insert().values(
            id=user_id,
            company_id=company_id,
            email=email,
            password_hash=password_hash,
            role="owner",
            created_at=now,
        )
    )
    key = issue_api_key(db, company_id, "signup", "admin")
    owner = Actor(type="user", id=user_id)
    for kind, version in sorted((body.accepted_policies or {}).items()):
        policies.accept(db, user_id, company_id, kind, version, now, owner, ip)
    if body.age_confirmed:
        details = {"minimum_age": policies.MINIMUM_AGE}
        record(db, company_id, owner, "age.confirmed", user_id, ip, now, details)
    return SignupResponse(company_id=company_id, user_id=user_id, api_key=key.secret)


def list_api_keys(db: Connection, company_id: str) -> list[ApiKeyView]:
    rows = db.execute(
        sa.select(api_keys)
        .where(api_keys.c.company_id == company_id)
        .order_by(api_keys.c.created_at)
    )
    return [ApiKeyView.model_validate(row._asdict()) for row in rows]


def revoke_api_key(db: Connection, company_id: str, key_id: str, now: datetime) -> None:
    result = db.execute(
        api_keys.update()
        .where(api_keys.c.id == key_id, api_keys.c.company_id == company_id)
        .values(revoked_at=sa.func.coalesce(api_keys.c.revoked_at, now))
    )
    if result.rowcount == 0:
        raise NotFound("not_found", f"no API key {key_id}")


def update_company(
    db: Connection, company_id: str, body: CompanySettings, now: datetime
) -> CompanyView:
    values = body.model_dump(include=body.model_fields_set)
    for name in NEVER_NULL:
        if values.get(name) is None:
            values.pop(name, None)
    if "timezone" in values:  # the day aggregates follow a few seconds later (0013)
        values["timezone_set_at"] = now
    if values:
        db.execute(companies.update().where(companies.c.id == company_id).values(**values))
    return company_view(db, company_id, now)


def company_view(db: Connection, company_id: str, now: datetime) -> CompanyView:
    row = db.execute(sa.select(companies).where(companies.c.id == company_id)).one()
    return CompanyView(
        id=row.id,
        name=row.name,
        country=row.country,
        timezone=row.timezone,
        privacy_contact_name=row.privacy_contact_name,
        privacy_contact_email=row.privacy_contact_email,
        plan=row.plan,
        status=status_at(row.status, row.ended_at, now),
        period_end=row.period_end,
        retention_days=row.retention_days,
        stale_after_s=row.stale_after_s,
        rep_digests=row.rep_digests,
    )


def me(
    db: Connection,
    company: Company,
    key_id: str | None,
    user_id: str | None,
    server: MeServer,
    now: datetime,
) -> Me:
    key = db.execute(
        sa.select(api_keys.c.id, api_keys.c.name, api_keys.c.role).where(api_keys.c.id == key_id)
    ).first()
    user = db.execute(
        sa.select(users.c.id, users.c.email, users.c.role, users.c.totp_enabled_at).where(
            users.c.id == user_id
        )
    ).first()
    return Me(
        company=MeCompany(
            id=company.id,
            name=company.name,
            plan=company.plan,
            status=company_status(company, now),
            timezone=company.timezone,
            privacy_contact=privacy_contact(db, company.id),
        ),
        user=MeUser(
            id=user.id, email=user.email, role=user.role, totp=user.totp_enabled_at is not None
        )
        if user
        else None,
        api_key=MeKey(id=key.id, name=key.name, role=key.role) if key else None,
        pending_policies=[
            PolicyOut(kind=p.kind, version=p.version, url=p.url)
            for p in (policies.pending(db, user.id) if user else [])
        ],
        server=server,
    )


def privacy_contact(db: Connection, company_id: str) -> str | None:
    row = db.execute(
        sa.select(companies.c.privacy_contact_name, companies.c.privacy_contact_email).where(
            companies.c.id == company_id
        )
    ).one()
    name, email = row
    if not (name or email):
        return None
    return f"{name} <{email}>" if name and email else (name or email)
