"""The calls worker (faust): raw call events in batches -> rows -> ClickHouse, then ack and commit.

At-least-once with idempotent writes: a batch is acknowledged only after ClickHouse has its rows
and its dead letters are in Kafka; the ReplacingMergeTree table absorbs the replays a crash causes.
Integration events (`call.created`/`call.missed`, `device.stale`) go onto their topic after
ClickHouse has the calls and before the offsets are committed; the hooks worker
(streams/hooks_worker.py) delivers them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, cast
from zoneinfo import ZoneInfo

import faust
from faust.types import EventT
from sqlalchemy.engine import Engine

from core.call_items import device_sims
from core.clickhouse import ClickHouse
from core.company_clickhouse import CompanyClickHouse
from core.device_health import fleet_states, push_stale_devices
from core.device_views import stale_device_events
from core.erasures import Dropped
from core.hook_events import subscribed
from core.lead_lookup import leads_of_clients
from core.mail import send_due_mail
from core.metrics import BATCH_RECORDS, CLICKHOUSE_INSERT_LATENCY, CLICKHOUSE_ROWS, DEVICES
from core.number_crypto import MasterKey
from core.push import SyncPusher
from core.settings import Settings
from schemas.events import CallNoted, ContactsReported, DeadLetter, IntegrationEvents
from streams.call_events import call_events
from streams.call_rows import CALL_COLUMNS, call_rows, decode_calls_event
from streams.companies import CompanyCrypto, CompanyDirectory, DroppedDirectory, kept
from streams.company_export import run_exports
from streams.consumer_lag import report_lag
from streams.contact_rows import CONTACT_COLUMNS, NOTE_COLUMNS, contact_rows, note_row
from streams.decoding import UnprocessableRecord, decode_event
from streams.device_facts import update_device_facts
from streams.faust_app import Publisher, dead_letter, faust_app
from streams.isolation import insert_isolating
from streams.pacing import paced
from streams.privacy_jobs import run_due
from streams.retry import until_success
from streams.status_rows import STATUS_COLUMNS, decode_status_event, status_row

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


Stored = tuple[bytes, list[tuple[Any, ...]]]  # a record ClickHouse has, and its rows
CALL_KEY_AT = CALL_COLUMNS.index("client_key")
CONTACT_KEY_AT = CONTACT_COLUMNS.index("client_key")
# suppressions and withdrawn devices are read again this often; erasures wait longer
DROPPED_TTL_S = 1.0
# the longest a time-driven round waits while it finds nothing to do (streams/pacing.py)
IDLE_PACE_S = 5.0


def create_worker(
    settings: Settings,
    engine: Engine,
    clickhouse: ClickHouse,
    master_key: MasterKey,
    pusher: SyncPusher,
) -> faust.App:
    app = faust_app(settings, settings.worker_group, settings.worker_instance_id, "faust")
    raw_calls = app.topic(settings.topic_calls_raw, value_type=bytes, value_serializer="raw")
    statuses = app.topic(settings.topic_device_status, value_type=bytes, value_serializer="raw")
    contacts = app.topic(settings.topic_contacts_raw, value_type=bytes, value_serializer="raw")
    notes = app.topic(settings.topic_call_notes, value_type=bytes, value_serializer="raw")
    dead_letters = app.topic(settings.topic_dead_letter, value_type=bytes, value_serializer="raw")
    integration = app.topic(
        settings.topic_integration_events, value_type=bytes, value_serializer="raw"
    )
    directory = CompanyDirectory(engine, master_key)
    report_lag(app, settings.kafka_bootstrap, settings.worker_group, settings.lag_interval_s)

    async def company_of(company_id: str) -> CompanyCrypto:
        """Retried while the control plane is down; an unknown company is unprocessable."""
        return await until_success(
            "control-plane lookup", directory.get, company_id, permanent=(UnprocessableRecord,)
        )

    drops = DroppedDirectory(engine, DROPPED_TTL_S)

    async def dropped_of(company_id: str) -> Dropped:
        return await until_success("control-plane lookup", drops.get, company_id)

    async def call_rows_of(value: bytes) -> list[tuple[Any, ...]]:
        calls = decode_calls_event(value)
        rows = call_rows(calls, await company_of(calls.company_id))
        return kept(rows, await dropped_of(calls.company_id), CALL_KEY_AT)

    async def contact_rows_of(value: bytes) -> list[tuple[Any, ...]]:
        reported = decode_event(ContactsReported, value)
        rows = contact_rows(reported, await company_of(reported.company_id))
        return kept(rows, await dropped_of(reported.company_id), CONTACT_KEY_AT)

    async def note_rows_of(value: bytes) -> list[tuple[Any, ...]]:
        noted = decode_event(CallNoted, value)
        return kept([note_row(noted)], await dropped_of(noted.company_id))

    async def status_rows_of(value: bytes) -> list[tuple[Any, ...]]:
        reported = decode_status_event(value)
        return kept([status_row(reported)], await dropped_of(reported.company_id))

    async def record_device_facts(stored: list[Stored]) -> None:
        """The facts of the statuses stored (each decoded before, so it decodes again)."""
        reports = [decode_status_event(value) for value, rows in stored if rows]
        await asyncio.get_running_loop().run_in_executor(None, update_device_facts, engine, reports)

    publish = Publisher(integration)
    publish_dead_letters = Publisher(dead_letters)

    async def publish_call_events(stored: list[Stored]) -> None:
        """`call.created`/`call.missed` of the calls ClickHouse now has (so each is in the
        history before its webhook), before the batch's offsets are committed."""
        loop = asyncio.get_running_loop()
        companies = {rows[0][0] for _value, rows in stored if rows}
        hooked = await loop.run_in_executor(None, call_hooks_of, companies)
        records = []
        sims: dict[str, dict[tuple[str, int], dict[str, Any]]] = {}
        for _value, rows in stored:
            if not rows or rows[0][0] not in hooked:
                continue  # no hook would receive these: nothing to build
            company_id = rows[0][0]
            company = await company_of(company_id)
            if company_id not in sims:
                sims[company_id] = await loop.run_in_executor(None, device_sims_of, company_id)
            holders: dict[str, str] = {}
            if company.has_leads:
                clients = [row[CALL_COLUMNS.index("client_key")] for row in rows]
                holders = await loop.run_in_executor(None, lead_holders, company_id, clients)
            records.append(
                call_events(
                    company_id,
                    rows,
                    ZoneInfo(company.timezone),
                    sims[company_id],
                    holders,
                    hooked[company_id],
                )
            )
        await publish.records(records)

    def call_hooks_of(company_ids: set[str]) -> dict[str, set[str]]:
        with engine.connect() as conn:
            found = subscribed(conn, company_ids)
        return {
            c: events for c, events in found.items() if events & {"call.created", "call.missed"}
        }

    def lead_holders(company_id: str, clients: list[str]) -> dict[str, str]:
        return leads_of_clients(CompanyClickHouse(clickhouse, company_id), clients)

    def device_sims_of(company_id: str) -> dict[tuple[str, int], dict[str, Any]]:
        with engine.connect() as conn:
            return device_sims(conn, company_id)

    async def sink(
        stream: faust.StreamT[bytes],
        rows_of: Callable[[bytes], Awaitable[list[tuple[Any, ...]]]],
        table: str,
        columns: tuple[str, ...],
        after_insert: Callable[[list[Stored]], Awaitable[None]] | None = None,
    ) -> None:
        """Batch -> rows -> ClickHouse (-> side effects) -> dead letters -> ack -> commit.
        Every step is retried until it succeeds; only unprocessable records are set aside."""
        # noack_take lives on the concrete Stream and yields events (its annotation says values)
        batches = cast(faust.Stream[Any], stream).noack_take(
            settings.flush_max_records, within=settings.flush_interval_ms / 1000
        )
        loop = asyncio.get_running_loop()

        async def insert(rows: list[tuple[Any, ...]]) -> None:
            started = time.perf_counter()
            await loop.run_in_executor(None, clickhouse.insert, table, columns, rows)
            CLICKHOUSE_INSERT_LATENCY.labels(table).observe(time.perf_counter() - started)
            CLICKHOUSE_ROWS.labels(table).inc(len(rows))

        async for batch in batches:
            events = cast(list[EventT[bytes]], batch)
            BATCH_RECORDS.labels(table).observe(len(events))
            transformed: list[tuple[EventT[bytes], list[tuple[Any, ...]]]] = []
            dead: list[DeadLetter] = []
            for event in events:
                try:
                    transformed.append((event, await rows_of(event.value)))
                except UnprocessableRecord as exc:
                    dead.append(dead_letter(event, str(exc)))
            refused = await until_success(
                f"ClickHouse insert into {clickhouse.url}",
                insert_isolating,
                insert,
                transformed,
                step="clickhouse insert",
            )
            dead.extend(dead_letter(event, reason) for event, reason in refused)
            refused_events = {id(event) for event, _reason in refused}
            stored = [
                (bytes(event.value), rows)
                for event, rows in transformed
                if id(event) not in refused_events
            ]
            if after_insert is not None and stored:
                await until_success(f"after storing {table}", after_insert, stored)
            await until_success("dead-letter publish", publish_dead_letters.dead_letters, dead)
            for event in events:
                await stream.ack(event)
            await app.consumer.commit()
            log.debug("stored %d %s records, %d dead letters", len(stored), table, len(dead))

    @app.timer(settings.stale_check_interval_s)
    async def push_to_stale_devices() -> None:
        now = datetime.now(UTC)
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, push_stale_devices, engine, clickhouse, pusher, now)
        except Exception as exc:  # a failed round is retried at the next tick
            log.warning("stale-device check failed: %r", exc)

    @app.timer(settings.stale_check_interval_s)
    async def count_stale_devices() -> None:
        loop = asyncio.get_running_loop()
        try:
            states = await loop.run_in_executor(
                None, fleet_states, engine, clickhouse, datetime.now(UTC)
            )
        except Exception as exc:  # counted again at the next tick
            log.warning("counting stale devices failed: %r", exc)
            return
        for state, count in states.items():
            DEVICES.labels(state).set(count)

    def stale_devices() -> list[IntegrationEvents]:
        with engine.connect() as conn:
            return stale_device_events(conn, clickhouse, datetime.now(UTC))

    @app.timer(settings.stale_check_interval_s)
    async def announce_stale_devices() -> None:
        """`device.stale` for the companies with a hook for it (repeats are dropped by id)."""
        try:
            await publish.records(
                await asyncio.get_running_loop().run_in_executor(None, stale_devices)
            )
        except Exception as exc:  # tried again at the next tick
            log.warning("stale-device events failed: %r", exc)

    @paced(app, settings.privacy_interval_s, IDLE_PACE_S, "privacy jobs")
    def privacy_jobs() -> bool:
        """Erasures, retention, deactivation and purges (streams/privacy_jobs.py)."""
        return run_due(
            engine, clickhouse, utc_now, settings.export_grace_days, settings.mutation_timeout_s
        )

    @paced(app, settings.privacy_interval_s, IDLE_PACE_S, "company exports")
    def company_exports() -> bool:
        """Company archives (streams/company_export.py), apart from the erasures they may wait on."""
        return bool(run_exports(engine, clickhouse, settings.archive_dir, directory.keys, utc_now))

    @paced(app, settings.mail_interval_s, IDLE_PACE_S, "the mail sender")
    def mail_sender() -> bool:
        """Queued email to the SMTP server (core/mail.py): retried with back-off, sent once."""
        return send_due_mail(engine, settings, utc_now()) > 0

    @app.agent(raw_calls, concurrency=1)
    async def store_calls(stream: faust.StreamT[bytes]) -> None:
        await sink(stream, call_rows_of, "calls", CALL_COLUMNS, publish_call_events)

    @app.agent(statuses, concurrency=1)
    async def store_device_status(stream: faust.StreamT[bytes]) -> None:
        await sink(stream, status_rows_of, "device_status", STATUS_COLUMNS, record_device_facts)

    @app.agent(contacts, concurrency=1)
    async def store_contacts(stream: faust.StreamT[bytes]) -> None:
        await sink(stream, contact_rows_of, "contacts", CONTACT_COLUMNS)

    @app.agent(notes, concurrency=1)
    async def store_call_notes(stream: faust.StreamT[bytes]) -> None:
        await sink(stream, note_rows_of, "call_notes", NOTE_COLUMNS)

    return app
