"""The calls worker (faust): each raw topic's records -> rows -> ClickHouse, then ack and commit
(streams/sink.py, one processor per topic in streams/tables.py); beside them its timed rounds.

At-least-once with idempotent writes: a batch is acknowledged only after ClickHouse has its rows
and its dead letters are in Kafka; the ReplacingMergeTree table absorbs the replays a crash causes.
Integration events (`call.created`/`call.missed`, `device.stale`) go onto their topic after
ClickHouse has the calls and before the offsets are committed; the hooks worker
(streams/hooks/worker.py) delivers them.
"""

from __future__ import annotations

import faust
from sqlalchemy.engine import Connection, Engine

from core.accounts.directory import CompanyDirectory
from core.clickhouse import ClickHouse
from core.clock import file_clock
from core.devices.push import SyncPusher
from core.mail import GaveUp, send_due_mail
from core.notices.digests import send_due_digests
from core.notices.notifications import mail_failed
from core.number_crypto import MasterKey
from core.settings import Settings
from streams.calls.aggregates import (
    AggregateKeeper,
    build_client_states,
    build_day_clients,
    build_days,
    in_order,
)
from streams.calls.announcements import CallAnnouncer
from streams.calls.followups import FollowupCloser, remind_due
from streams.calls.tables import calls_table, contacts_table, note_catcher, notes_table
from streams.companies import DroppedDirectory
from streams.consumer_lag import report_lag
from streams.devices.facts import device_facts_recorder
from streams.devices.stale import watch_stale_devices
from streams.devices.tables import statuses_table
from streams.faust_app import Publisher, faust_app, raw_topic
from streams.isolation import Rows
from streams.pacing import paced
from streams.privacy.export import run_exports
from streams.privacy.jobs import run_due
from streams.sink import Sink
from streams.tables import Lookups, TableProcessor

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
    keep_aggregates: bool = True,
) -> faust.App:
    """`keep_aggregates` false only for the pipeline benchmark's baseline (bench/pipeline.py):
    the calls stored without their per-employee aggregates, which the reports then read stale."""
    app = faust_app(settings, settings.worker_group, settings.worker_instance_id, "faust")
    utc_now = file_clock(settings.clock_file)  # the real time but in end-to-end tests

    publish = Publisher(raw_topic(app, settings.topic_integration_events))
    dead_letters = Publisher(raw_topic(app, settings.topic_dead_letter))
    directory = CompanyDirectory(engine, master_key)
    lookups = Lookups(directory, DroppedDirectory(engine, DROPPED_TTL_S))
    report_lag(app, settings.kafka_bootstrap, settings.worker_group, settings.lag_interval_s)
    watch_stale_devices(app, settings.stale_check_interval_s, engine, clickhouse, pusher, publish)

    def sink_of(topic_name: str, processor: TableProcessor) -> None:
        sink: Sink[Rows] = Sink(processor, dead_letters.dead_letters, lambda: app.consumer.commit())

        async def store(stream: faust.StreamT[bytes]) -> None:
            await sink.run(stream, settings.flush_max_records, settings.flush_interval_ms / 1000)

        store.__name__ = store.__qualname__ = f"store_{processor.name}"
        app.agent(raw_topic(app, topic_name), concurrency=1)(store)

    announce = CallAnnouncer(engine, clickhouse, lookups, publish)
    notes, closer = note_catcher(clickhouse), FollowupCloser(engine, lookups)
    after_calls = (
        in_order(AggregateKeeper(clickhouse, lookups), notes, closer, announce)
        if keep_aggregates
        else in_order(notes, closer, announce)
    )
    sink_of(settings.topic_calls_raw, calls_table(lookups, clickhouse, after_calls))
    facts = device_facts_recorder(engine)
    sink_of(settings.topic_device_status, statuses_table(lookups, clickhouse, facts))
    sink_of(settings.topic_contacts_raw, contacts_table(lookups, clickhouse))
    sink_of(settings.topic_call_notes, notes_table(lookups, clickhouse))

    @paced(app, settings.privacy_interval_s, IDLE_PACE_S, "follow-up reminders")
    def followup_reminders() -> bool:
        """Follow-ups that fell due: pushed and announced (streams/calls/followups.py)."""
        return remind_due(engine, pusher, utc_now())

    @paced(app, settings.privacy_interval_s, IDLE_PACE_S, "privacy jobs")
    def privacy_jobs() -> bool:
        """Erasures, retention, deactivation and purges (streams/privacy/jobs.py)."""
        return run_due(
            engine,
            clickhouse,
            utc_now,
            settings.export_grace_days,
            settings.public_url,
            settings.mutation_timeout_s,
        )

    @paced(app, settings.privacy_interval_s, IDLE_PACE_S, "aggregate rebuilds")
    def aggregate_rebuilds() -> bool:
        """The per-employee days of companies that changed their zone, the client states of
        companies whose states are unusable and the unique clients of days whose figure is
        stale (streams/calls/aggregates.py)."""
        days = build_days(engine, clickhouse, utc_now, settings.mutation_timeout_s)
        states = build_client_states(engine, clickhouse, utc_now, settings.mutation_timeout_s)
        figures = build_day_clients(engine, clickhouse)
        return bool(days or states or figures)

    @paced(app, settings.privacy_interval_s, IDLE_PACE_S, "company exports")
    def company_exports() -> bool:
        """Company archives (streams/privacy/export.py), apart from the erasures they may wait on."""
        written = run_exports(
            engine, clickhouse, settings.archive_dir, directory.keys, utc_now, settings.public_url
        )
        return bool(written)

    if settings.digests_enabled:

        @paced(app, settings.digest_interval_s, IDLE_PACE_S, "the digests")
        def digests() -> bool:
            """Each due digest claimed for its recipient's local day and queued (core/notices)."""
            return send_due_digests(engine, clickhouse, utc_now(), settings.public_url) > 0

    def gave_up(conn: Connection, failed: GaveUp) -> None:
        mail_failed(conn, failed, utc_now())

    @paced(app, settings.mail_interval_s, IDLE_PACE_S, "the mail sender")
    def mail_sender() -> bool:
        """Queued email to the SMTP server (core/mail.py): retried with back-off, sent once; a
        company's mail given up is shown to its admins."""
        return send_due_mail(engine, settings, utc_now(), gave_up=gave_up) > 0

    return app
