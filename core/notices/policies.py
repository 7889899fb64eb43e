"""The operator's policy versions (API.md "Sign-in"): a published privacy policy or terms
version is mailed to every user once and, until a user accepts it, their sessions answer 403
`policy_acceptance_required` (api/deps.py). Sign-up accepts the versions in force and attests
the age (18+, the strictest of the seeds' policies). Every acceptance is audited with its
time and version; nothing else asks for consent the product does not need."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from core.audit import OPERATOR, Actor, record
from core.controlplane import companies, insert_new, policies, policy_acceptances
from core.notices.notifications import Notice, notify

Kind = Literal["privacy", "terms"]
KINDS: tuple[Kind, ...] = ("privacy", "terms")
TITLES = {"privacy": "privacy policy", "terms": "terms of service"}
EVERYONE = ("owner", "admin", "manager", "viewer")
MINIMUM_AGE = 18


class PolicyError(ValueError):
    """A version that is not the one in force, or one published already."""


@dataclass(frozen=True, slots=True)
class Policy:
    kind: Kind
    version: str
    url: str


def in_force(conn: Connection) -> dict[str, Policy]:
    """The latest published version of each kind."""
    rows = conn.execute(sa.select(policies).order_by(policies.c.published_at))
    return {row.kind: Policy(row.kind, row.version, row.url) for row in rows}


def pending(conn: Connection, user_id: str) -> list[Policy]:
    """The versions in force the user has not accepted, by kind."""
    current = in_force(conn)
    if not current:
        return []
    accepted = set(
        conn.execute(
            sa.select(policy_acceptances.c.kind, policy_acceptances.c.version).where(
                policy_acceptances.c.user_id == user_id
            )
        ).tuples()
    )
    return [p for kind, p in sorted(current.items()) if (kind, p.version) not in accepted]


def accept(
    conn: Connection,
    user_id: str,
    company_id: str,
    kind: str,
    version: str,
    now: datetime,
    actor: Actor,
    ip: str,
) -> None:
    """The user accepts `version` of `kind`, which must be the one in force; audited once."""
    current = in_force(conn).get(kind)
    if current is None or current.version != version:
        shown = current.version if current else "none"
        raise PolicyError(f"the {kind} version in force is {shown}, not {version}")
    row = {
        "user_id": user_id,
        "kind": kind,
        "version": version,
        "company_id": company_id,
        "accepted_at": now,
    }
    if insert_new(conn, policy_acceptances, [row]):
        details = {"kind": kind, "version": version, "url": current.url}
        record(conn, company_id, actor, "policy.accepted", user_id, ip, now, details)


def check_signup(
    conn: Connection, accepted: dict[str, str] | None, age_confirmed: bool
) -> list[tuple[str, str]]:
    """What a sign-up lacks once versions are published: (field, reason) pairs, none if fine."""
    current = in_force(conn)
    if not current:
        return []
    problems = []
    for kind, policy in sorted(current.items()):
        if (accepted or {}).get(kind) != policy.version:
            problems.append(
                (f"accepted_policies.{kind}", f"accept the {TITLES[kind]} {policy.version}")
            )
    if not age_confirmed:
        problems.append(("age_confirmed", f"confirm you are {MINIMUM_AGE} or older"))
    return problems


def publish(conn: Connection, kind: Kind, version: str, url: str, now: datetime) -> int:
    """A new version in force, every enabled user told (a notification and a mail) once; the
    number of users told."""
    if not insert_new(
        conn, policies, [{"kind": kind, "version": version, "url": url, "published_at": now}]
    ):
        raise PolicyError(f"the {kind} version {version} is published already")
    notice = Notice(
        "policy.published",
        f"policy:{kind}:{version}",
        f"We updated our {TITLES[kind]} ({version})",
        f"A new version of closecall's {TITLES[kind]} ({version}) is in force: {url}. "
        "At your next sign-in the console asks you to accept it before you go on.",
        url,
    )
    told = 0
    details = {"kind": kind, "version": version, "url": url}
    for company_id in conn.execute(sa.select(companies.c.id).order_by(companies.c.id)).scalars():
        told += notify(conn, company_id, notice, now, roles=EVERYONE)
        record(conn, company_id, OPERATOR, "policy.published", kind, "", now, details)
    return told
