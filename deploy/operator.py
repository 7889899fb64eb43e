"""The operator's commands: billing (`closecall company ...`: list companies by state, set the
end of a paid period), policy versions (`closecall policy publish`) and
`closecall rotate-master-key`. Every change is audited."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime

from sqlalchemy.engine import Connection

from core import controlplane, key_rotation
from core.accounts import subscription
from core.accounts.subscription import Status, Subscription
from core.audit import OPERATOR, record
from core.clock import iso_or_none, utc_now
from core.notices import policies
from core.settings import MissingSetting, Settings


def parse_time(value: str) -> datetime | None:
    """RFC 3339 (a date alone is its midnight UTC), or `none` for no end."""
    if value.lower() == "none":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise SystemExit(
            f"closecall: {value!r} is no time: use 2027-01-31T00:00:00Z or none"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def line(found: Subscription) -> str:
    end = found.period_end.isoformat() if found.period_end else "-"
    return f"{found.company_id}  {found.status:<11}  {found.plan:<10}  {end:<25}  {found.name}"


def list_companies(settings: Settings, state: Status | None) -> None:
    engine = controlplane.make_engine(settings.database_url)
    with engine.connect() as conn:
        for found in subscription.listed(conn, utc_now(), state):
            print(line(found))


def _audited_change(
    settings: Settings,
    company_id: str,
    action: str,
    change: Callable[[Connection, datetime], Subscription],
    reason: str | None = None,
) -> None:
    """One change of a company's subscription by the operator, audited with what it left."""
    engine = controlplane.make_engine(settings.database_url)
    at = utc_now()
    try:
        with engine.begin() as conn:
            found = change(conn, at)
            details = {
                "period_end": iso_or_none(found.period_end),
                "ended_at": iso_or_none(found.ended_at),
            }
            if reason:
                details["reason"] = reason
            record(conn, company_id, OPERATOR, action, company_id, "", at, details)
    except subscription.UnknownCompany:
        sys.exit(f"closecall: no company {company_id} (`closecall company list` shows them)")
    print(line(found))


def set_period_end(settings: Settings, company_id: str, value: str) -> None:
    end = parse_time(value)
    _audited_change(
        settings,
        company_id,
        "subscription.period_end",
        lambda conn, at: subscription.set_period_end(conn, company_id, end, at),
    )


def cancel(settings: Settings, company_id: str, reason: str) -> None:
    _audited_change(
        settings,
        company_id,
        "subscription.cancelled",
        lambda conn, at: subscription.cancel(conn, company_id, at, reason),
        reason,
    )


def reactivate(settings: Settings, company_id: str) -> None:
    _audited_change(
        settings,
        company_id,
        "subscription.reactivated",
        lambda conn, at: subscription.reactivate(conn, company_id, at),
    )


def publish_policy(settings: Settings, kind: policies.Kind, version: str, url: str) -> None:
    if not url.startswith(("https://", "http://")) or len(version) > 40 or not version.strip():
        sys.exit("closecall: give --version (at most 40 characters) and an http(s) --url")
    engine = controlplane.make_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            told = policies.publish(conn, kind, version, url, utc_now())
    except policies.PolicyError as exc:
        sys.exit(f"closecall: {exc}: publish a new version")
    print(f"{kind} {version} is in force; {told} users will be mailed and asked to accept it")


def rotate_master_key(settings: Settings) -> None:
    previous = settings.previous_master_key_bytes()
    if previous is None:
        raise MissingSetting(
            "CLOSECALL_MASTER_KEY_PREVIOUS is unset: set it to the key in use until now and "
            "CLOSECALL_MASTER_KEY to the new one (the services need both until this finished)"
        )
    new = settings.master_key_bytes()
    engine = controlplane.make_engine(settings.database_url)

    def progress(done: int, total: int) -> None:
        print(f"\rre-wrapping data keys: {done}/{total}", end="", file=sys.stderr, flush=True)

    count = key_rotation.rotate(engine, new, previous, utc_now(), progress)
    print(file=sys.stderr)
    print(
        f"{count} companies re-wrapped under the new master key; unset "
        "CLOSECALL_MASTER_KEY_PREVIOUS and restart the services with CLOSECALL_MASTER_KEY alone"
    )
