"""The worker's time-driven privacy jobs with an injected clock, on both ClickHouse backends:
retention deletes exactly the rows older than the cutoff and only that company's; the
lifecycle deactivates at `period_end` and purges after the grace, leaving nothing."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core.accounts.subscription import cancel, company_status, set_period_end
from core.calls.aggregates import keep, touched
from core.clickhouse import ClickHouse
from core.controlplane import (
    audit_log,
    companies,
    hook_deliveries,
    hook_events,
    hooks,
    load_company,
    make_engine,
    migrate,
)
from core.hooks.events import record_events
from core.number_crypto import (
    DecryptionError,
    blind_index,
    encrypt_number,
    new_wrapped_data_key,
    unwrap_company_keys,
)
from core.privacy.mutations import COMPANY_TABLES
from schemas.events import IntegrationEvent
from streams.calls.contact_rows import CONTACT_COLUMNS, NOTE_COLUMNS
from streams.calls.rows import CALL_COLUMNS
from streams.devices.status_rows import STATUS_COLUMNS
from streams.privacy.jobs import lifecycle, retain
from tests.support.leftovers import control_plane_rows

MASTER = os.urandom(32)
NOW = datetime(2027, 6, 1, 3, 0, tzinfo=UTC)
CONSOLE = "https://calls.example"  # the public URL the notices link to


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    made = make_engine(f"sqlite:///{tmp_path / 'control.db'}")
    migrate(made)
    yield made
    made.dispose()


def company(engine: Engine, retention_days: int | None = None) -> str:
    company_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            companies.insert().values(
                id=company_id,
                name="Jobs",
                country="IN",
                timezone="Asia/Kolkata",
                plan="basic",
                wrapped_data_key=new_wrapped_data_key(MASTER, company_id),
                created_at=NOW - timedelta(days=400),
                retention_days=retention_days,
            )
        )
    return company_id


def rows_at(store: ClickHouse, engine: Engine, company_id: str, ages_days: list[int]) -> None:
    """One call (with a note), one status and one contact per age, all from device d1."""
    with engine.connect() as conn:
        wrapped = conn.execute(
            sa.select(companies.c.wrapped_data_key).where(companies.c.id == company_id)
        ).scalar_one()
    keys = unwrap_company_keys(MASTER, company_id, wrapped)
    calls, statuses, contacts, notes = [], [], [], []
    for age in ages_days:
        at = NOW - timedelta(days=age, minutes=1)
        number = f"+9198765{age:05d}"
        key = blind_index(keys, number)
        enc = encrypt_number(keys, number)
        call_id = f"call-{age}"
        calls.append(
            (company_id, "d1", call_id, uuid.uuid4().hex, "e1", key, enc, "+91 98***", "",
             "outgoing", at, 30, 0, "", at, 1)
        )  # fmt: skip
        notes.append((company_id, "d1", call_id, f"note {age}", 2))
        statuses.append(
            (company_id, "d1", "e1", at, at, 50, 0, 1, 19.0, 72.0, 5.0, at, "1.0", 1, "14", 34,
             "wifi", "[]")
        )  # fmt: skip
        contacts.append(
            (company_id, "d1", "e1", f"contact-{age}", "A", key, enc, "+91 98***", "", at, 1)
        )
    store.insert("calls", CALL_COLUMNS, calls)
    for changed in touched(calls, CALL_COLUMNS):  # the aggregates, as the worker keeps them
        keep(store, changed, "Asia/Kolkata")
    store.insert("call_notes", NOTE_COLUMNS, notes)
    store.insert("device_status", STATUS_COLUMNS, statuses)
    store.insert("contacts", CONTACT_COLUMNS, contacts)


def hook_log(engine: Engine, company_id: str, ages_days: list[int]) -> None:
    """A hook and one recorded event (with its delivery) per age."""
    with engine.begin() as conn:
        conn.execute(
            hooks.insert().values(
                id=str(uuid.uuid4()), company_id=company_id, event="call.created",
                target_url="https://example.com/", numbers="masked", secret_enc="x",
                created_at=NOW, creator_type="user", creator_id="u1",
            )
        )  # fmt: skip
        for age in ages_days:
            event = IntegrationEvent(
                id=f"evt-{age}", type="call.created", company_id=company_id,
                occurred_at=NOW, data={}, numbers=[f"{age:032d}"],
            )  # fmt: skip
            assert len(record_events(conn, [event], NOW - timedelta(days=age, minutes=1))) == 1


def held(store: ClickHouse, company_id: str) -> dict[str, list[Any]]:
    def of(sql: str) -> list[Any]:
        return sorted(row["v"] for row in store.query(sql, {"c": company_id}))

    return {
        "calls": of("SELECT client_call_id AS v FROM calls FINAL WHERE company_id = %(c)s"),
        "notes": of("SELECT client_call_id AS v FROM call_notes FINAL WHERE company_id = %(c)s"),
        "statuses": of(
            "SELECT toString(reported_at) AS v FROM device_status FINAL WHERE company_id = %(c)s"
        ),
        "contacts": of("SELECT contact_id AS v FROM contacts FINAL WHERE company_id = %(c)s"),
        "clients": of(
            "SELECT toString(client) AS v FROM client_calls FINAL WHERE company_id = %(c)s"
        ),
        "lookups": of(
            "SELECT toString(client) AS v FROM call_clients FINAL WHERE company_id = %(c)s"
        ),
        "states": of(
            "SELECT toString(client) AS v FROM client_states FINAL WHERE company_id = %(c)s"
        ),
        "quarters": of(
            "SELECT toString(quarter) AS v FROM call_quarters FINAL"
            " WHERE company_id = %(c)s AND outgoing > 0"
        ),
        "days": of(
            "SELECT toString(day) AS v FROM call_days FINAL"
            " WHERE company_id = %(c)s AND outgoing > 0"
        ),
        "hours": of(
            "SELECT toString(hour) AS v FROM call_hours FINAL"
            " WHERE company_id = %(c)s AND outgoing > 0"
        ),
        "company hours": of(
            "SELECT toString(hour) AS v FROM company_hours FINAL"
            " WHERE company_id = %(c)s AND outgoing > 0"
        ),
    }


def test_retention_deletes_exactly_the_older_rows_of_that_company(
    clickhouse_store: ClickHouse, engine: Engine
) -> None:
    kept_company, other = company(engine, retention_days=30), company(engine)
    rows_at(clickhouse_store, engine, kept_company, [1, 29, 31, 200])
    rows_at(clickhouse_store, engine, other, [1, 31, 200])
    before_other = held(clickhouse_store, other)
    hook_log(engine, kept_company, [1, 31])

    assert retain(engine, clickhouse_store, NOW) == [kept_company]
    after = held(clickhouse_store, kept_company)
    assert after["calls"] == after["notes"] == ["call-1", "call-29"]
    assert after["contacts"] == ["contact-1", "contact-29"]
    assert len(after["statuses"]) == 2 and len(after["clients"]) == 2
    assert len(after["lookups"]) == 2  # the client lookups of deleted calls went too
    assert len(after["quarters"]) == 2  # and the aggregates of their quarters, days, hours
    assert len(after["days"]) == len(after["hours"]) == len(after["company hours"]) == 2
    assert after["states"] == after["clients"]  # the states of clients without calls went
    assert held(clickhouse_store, other) == before_other  # no retention set: everything stays
    with engine.connect() as conn:  # the delivery log keeps no older payloads than the calls
        left = conn.execute(
            sa.select(hook_events.c.id, hook_deliveries.c.event_id).join(
                hook_deliveries, hook_deliveries.c.event_id == hook_events.c.id
            )
        ).all()
    assert [event_id for event_id, _ in left] == ["evt-1"]
    # once a day: the same day does nothing more, the next day runs again
    assert retain(engine, clickhouse_store, NOW + timedelta(hours=23)) == []
    assert retain(engine, clickhouse_store, NOW + timedelta(days=1)) == [kept_company]
    with engine.connect() as conn:
        actions = conn.execute(
            sa.select(audit_log.c.action).where(audit_log.c.company_id == kept_company)
        ).scalars()
        assert list(actions) == ["retention.applied", "retention.applied"]


def test_cancel_deactivates_at_period_end_and_purges_after_the_grace(
    clickhouse_store: ClickHouse, engine: Engine
) -> None:
    gone, stays = company(engine), company(engine)
    rows_at(clickhouse_store, engine, gone, [1, 2])
    rows_at(clickhouse_store, engine, stays, [1])
    end = NOW + timedelta(days=10)
    with engine.begin() as conn:
        set_period_end(conn, gone, end, NOW)
        cancelled = cancel(conn, gone, NOW)
    assert (cancelled.status, cancelled.period_end) == ("cancelled", end)
    ciphertext = clickhouse_store.query(
        "SELECT number_enc FROM calls WHERE company_id = %(c)s LIMIT 1", {"c": gone}
    )[0]["number_enc"]

    def status_at(at: datetime) -> str:
        with engine.connect() as conn:
            found = load_company(conn, gone)
            assert found is not None
            return company_status(found, at)

    assert lifecycle(engine, clickhouse_store, end - timedelta(seconds=1), 5, CONSOLE) == []
    assert status_at(end - timedelta(seconds=1)) == "cancelled"
    assert lifecycle(engine, clickhouse_store, end, 5, CONSOLE) == []
    assert status_at(end) == "deactivated"
    assert (
        lifecycle(
            engine, clickhouse_store, end + timedelta(days=5) - timedelta(seconds=1), 5, CONSOLE
        )
        == []
    )
    assert lifecycle(engine, clickhouse_store, end + timedelta(days=5), 5, CONSOLE) == [gone]

    for table in COMPANY_TABLES:
        left = clickhouse_store.query(
            f"SELECT count() AS n FROM {table} WHERE company_id = %(c)s", {"c": gone}
        )
        assert int(left[0]["n"]) == 0, table
    assert held(clickhouse_store, stays)["calls"] == ["call-1"]
    assert control_plane_rows(engine, gone) == {}
    with engine.connect() as conn:
        # nothing the system keeps opens the saved ciphertext's key again
        kept_keys = list(conn.execute(sa.select(companies.c.wrapped_data_key)).scalars())
    assert ciphertext and kept_keys
    for other_wrapped in kept_keys:
        with pytest.raises(DecryptionError):
            unwrap_company_keys(MASTER, gone, other_wrapped)
