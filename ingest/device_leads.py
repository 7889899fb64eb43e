"""The phone's call list: the changes to its employee's leads since its cursor (the feed of
core/leads/feed.py), and its employee's open follow-ups (core/leads/followups.py), numbers
decrypted to E.164 so the phone can dial them."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.controlplane import Company, followups, load_company
from core.errors import Invalid, PaymentRequired
from core.leads.feed import feed_page
from core.number_crypto import MasterKey, decrypt_number, unwrap_company_keys
from ingest.identity import DeviceIdentity
from schemas.payloads import DeviceFollowup, DeviceFollowups, DeviceLead, DeviceLeads

MAX_CURSOR_DIGITS = 18


def feed_position(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit() or len(cursor) > MAX_CURSOR_DIGITS:
        raise Invalid(
            "invalid_request",
            "the cursor is not one this API returned",
            [("cursor", "invalid")],
        )
    return int(cursor)


def device_leads(
    engine: Engine, master_key: MasterKey, device: DeviceIdentity, cursor: str | None, limit: int
) -> DeviceLeads:
    """Each changed lead once: the lead while it is the employee's, else `removed` (left out of
    a first sync without cursor: the phone never had it)."""
    after = feed_position(cursor)
    with engine.connect() as conn:
        company = with_leads(load_company(conn, device.company_id))
        found = feed_page(conn, company.id, device.employee_id, after, limit)
    keys = unwrap_company_keys(master_key, company.id, company.wrapped_data_key)

    def number(sealed: str | None) -> str | None:
        return decrypt_number(keys, sealed) if sealed else None

    items = []
    for _seq, lead_id, lead in found:
        if lead is not None:
            items.append(
                DeviceLead(
                    id=lead.id,
                    first_name=lead.first_name,
                    last_name=lead.last_name,
                    company=lead.company,
                    primary_number=number(lead.primary_enc),
                    secondary_number=number(lead.secondary_enc),
                    notes=lead.notes,
                )
            )
        elif after:
            items.append(DeviceLead(id=lead_id, removed=True))
    position = found[-1][0] if found else after
    return DeviceLeads(items=items, next_cursor=str(position))


def with_leads(company: Company | None) -> Company:
    if company is None or not company.has_leads:
        raise PaymentRequired("plan_required", "the company's plan has no leads")
    return company


def device_followups(
    engine: Engine, master_key: MasterKey, device: DeviceIdentity, limit: int
) -> DeviceFollowups:
    """The employee's follow-ups not done yet, earliest due first, at most `limit`."""
    with engine.connect() as conn:
        company = with_leads(load_company(conn, device.company_id))
        rows = conn.execute(
            sa.select(followups)
            .where(
                followups.c.company_id == company.id,
                followups.c.employee_id == device.employee_id,
                followups.c.done_at.is_(None),
            )
            .order_by(followups.c.due_at, followups.c.id)
            .limit(limit)
        ).all()
    keys = unwrap_company_keys(master_key, company.id, company.wrapped_data_key)
    zone = ZoneInfo(company.timezone)
    return DeviceFollowups(
        items=[
            DeviceFollowup(
                id=row.id,
                lead_id=row.lead_id,
                number=decrypt_number(keys, row.number_enc),
                due_at=row.due_at.astimezone(zone),
                note=row.note,
            )
            for row in rows
        ]
    )
