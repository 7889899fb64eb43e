"""The control-plane database: table definitions (mirroring migrations/controlplane), the engine,
the migration runner and the company lookup every service needs."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect, Engine

from core.clock import utc_now
from core.tokens import digest
from schemas.migrations import Migration, numbered_migrations, ready

log = logging.getLogger(__name__)


class UtcDateTime(sa.TypeDecorator[datetime]):
    """Timestamps stored as naive UTC (portable across SQLite and PostgreSQL), read back aware."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


metadata = sa.MetaData()

companies = sa.Table(
    "companies",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("timezone", sa.String(64), nullable=False),
    sa.Column("plan", sa.String(20), nullable=False),
    sa.Column("wrapped_data_key", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("stale_after_s", sa.Integer, nullable=False, server_default="21600"),
    sa.Column("lead_cursor", sa.String(36)),  # the employee of the last round-robin assignment
    sa.Column("lead_seq", sa.BigInteger, nullable=False, server_default="0"),  # lead feed position
    # the subscription (migrations 0010, 0020; core/accounts/subscription.py): the status as
    # last set, the paid period's end (shown, never acted on alone), when and why the company
    # is deactivated (null: it is not going to be), when the worker announced it
    sa.Column("status", sa.String(12), nullable=False, server_default="active"),
    sa.Column("period_end", UtcDateTime),
    sa.Column("deactivated_at", UtcDateTime),
    sa.Column("ended_at", UtcDateTime),
    sa.Column("end_reason", sa.String(16)),
    sa.Column("cancel_reason", sa.String(1000)),
    sa.Column("pending_plan", sa.String(20)),
    sa.Column("retention_days", sa.Integer),  # null: keep everything
    sa.Column("retained_at", UtcDateTime),  # when the retention job last ran for it
    sa.Column("privacy_contact_name", sa.String(200)),  # migration 0012: shown to its users
    sa.Column("privacy_contact_email", sa.String(320)),
    # migration 0013: when `timezone` last changed (`day_zone`: what 0017's `rollup_zone`
    # replaced, written only by the previous release's workers)
    sa.Column("day_zone", sa.String(64)),
    sa.Column("timezone_set_at", UtcDateTime),
    # migration 0014: the earliest range start the per-client states answer (null: none until
    # rebuilt, core/calls/client_states.py), and when they last became unusable
    sa.Column("client_states_from", UtcDateTime),
    sa.Column("client_states_stale_at", UtcDateTime),
    # migration 0017: the zone its local days and hours and its clients' local hours are
    # complete in (core/calls/aggregates.py `rebuild_days`)
    sa.Column("rollup_zone", sa.String(64)),
    # migration 0019: employees with an email get their own digest (core/notices/digests.py)
    sa.Column("rep_digests", sa.Boolean, nullable=False, server_default=sa.false()),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.String(20), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("totp_secret", sa.Text),
    sa.Column("totp_enabled_at", UtcDateTime),
    sa.Column("totp_last_step", sa.BigInteger),
    sa.Column("teams", sa.Text, nullable=False, server_default="[]"),
    sa.Column("disabled_at", UtcDateTime),
    # migration 0019: the digest (core/notices/digests.py; null: the role's default)
    sa.Column("digest_frequency", sa.String(8)),
    sa.Column("digest_time", sa.String(5)),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("actor_type", sa.String(10), nullable=False),  # user | api_key
    sa.Column("actor_id", sa.String(36), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("target", sa.String(200), nullable=False),
    sa.Column("ip", sa.String(45), nullable=False),
    sa.Column("details", sa.Text, nullable=False),  # JSON: never a number or a secret
)

user_tokens = sa.Table(
    "user_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("purpose", sa.String(10), nullable=False),  # invite | reset
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("used_at", UtcDateTime),
)

access_tokens = sa.Table(
    "access_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime),
)

login_failures = sa.Table(
    "login_failures",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("email_hash", sa.String(64), nullable=False),
    sa.Column("failed_at", UtcDateTime, nullable=False),
)

mail_outbox = sa.Table(
    "mail_outbox",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("recipient", sa.String(320), nullable=False),
    sa.Column("subject", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.String(200)),
    sa.Column("failed_at", UtcDateTime),
    # migration 0019: the HTML part, headers as JSON, the company it is about (null: mail that
    # outlives it) and what it is (`digest`, a notification's kind)
    sa.Column("html", sa.Text),
    sa.Column("headers", sa.Text),
    sa.Column("company_id", sa.String(36)),
    sa.Column("purpose", sa.String(40)),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime),
    sa.Column("role", sa.String(20), nullable=False, server_default="admin"),
)

employees = sa.Table(
    "employees",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("phone", sa.String(64)),
    sa.Column("email", sa.String(320)),
    sa.Column("team", sa.String(200)),
    sa.Column("tracking_enabled", sa.Boolean, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("archived_at", UtcDateTime),
    sa.Column("takes_leads", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("digest_off_at", UtcDateTime),  # migration 0019: the rep unsubscribed
)

leads = sa.Table(
    "leads",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("first_name", sa.String(100)),
    sa.Column("last_name", sa.String(100)),
    sa.Column("company", sa.String(200)),
    sa.Column("email", sa.String(320)),
    sa.Column("primary_enc", sa.Text),
    sa.Column("primary_masked", sa.String(32)),
    sa.Column("secondary_enc", sa.Text),
    sa.Column("secondary_masked", sa.String(32)),
    sa.Column("address", sa.String(500)),
    sa.Column("country", sa.String(2)),
    sa.Column("state", sa.String(100)),
    sa.Column("zip", sa.String(20)),
    sa.Column("notes", sa.Text),
    sa.Column("employee_id", sa.String(36), sa.ForeignKey("employees.id")),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("updated_at", UtcDateTime, nullable=False),
    sa.Column("feed_seq", sa.BigInteger, nullable=False),  # position of its last change
    sa.Column("assigned_at", UtcDateTime),  # when it went to its current employee
    # migration 0021: the values of the company's own fields (`lead_fields`), JSON by key
    sa.Column("custom", sa.Text, nullable=False, server_default="{}"),
)

lead_fields = sa.Table(
    "lead_fields",
    metadata,
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), primary_key=True),
    sa.Column("field_key", sa.String(40), primary_key=True),
    sa.Column("label", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),  # text | number | date | choice
    sa.Column("choices", sa.Text, nullable=False, server_default="[]"),  # JSON array
    sa.Column("created_at", UtcDateTime, nullable=False),
)

lead_numbers = sa.Table(
    "lead_numbers",
    metadata,
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), primary_key=True),
    sa.Column("number_key", sa.String(32), primary_key=True),  # the blind index
    sa.Column(
        "lead_id", sa.String(36), sa.ForeignKey("leads.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("slot", sa.String(9), nullable=False),  # primary | secondary
)

lead_feed = sa.Table(
    "lead_feed",
    metadata,
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("employee_id", sa.String(36), nullable=False),  # whom the lead was taken from
    sa.Column("lead_id", sa.String(36), primary_key=True),
)

# migration 0024: a lead's creation, changes of employee and edits (api/leads/store.py)
lead_history = sa.Table(
    "lead_history",
    metadata,
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), primary_key=True),
    sa.Column(
        "lead_id",
        sa.String(36),
        sa.ForeignKey("leads.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("seq", sa.BigInteger, primary_key=True),  # the feed position of the change
    sa.Column("kind", sa.String(10), primary_key=True),  # created | assigned | unassigned | edited
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("employee_id", sa.String(36)),  # the lead's employee after the change
    sa.Column("fields", sa.Text, nullable=False, server_default="[]"),  # names an edit changed
)

# migration 0023: a time to call a client back (core/leads/followups.py)
followups = sa.Table(
    "followups",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("lead_id", sa.String(36), sa.ForeignKey("leads.id", ondelete="CASCADE")),
    sa.Column("number_key", sa.String(32), nullable=False),
    sa.Column("number_enc", sa.Text, nullable=False),
    sa.Column("number_masked", sa.String(32), nullable=False),
    sa.Column("employee_id", sa.String(36), sa.ForeignKey("employees.id")),
    sa.Column("due_at", UtcDateTime, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("reminded_at", UtcDateTime),
    sa.Column("done_at", UtcDateTime),
    sa.Column("done_by_call", sa.String(64)),
)

# migration 0022: each deleted lead at the feed position of its deletion (the change feed)
lead_deletions = sa.Table(
    "lead_deletions",
    metadata,
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("lead_id", sa.String(36), nullable=False),
)

hooks = sa.Table(
    "hooks",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("event", sa.String(20), nullable=False),
    sa.Column("target_url", sa.String(2000), nullable=False),
    sa.Column("numbers", sa.String(6), nullable=False),  # masked | e164
    sa.Column("secret_enc", sa.Text, nullable=False),  # under the company's data key
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("creator_type", sa.String(10), nullable=False),  # user | api_key
    sa.Column("creator_id", sa.String(36), nullable=False),
    sa.Column("failing_since", UtcDateTime),  # first failure since the last delivery
    sa.Column("disabled_at", UtcDateTime),
)

hook_events = sa.Table(
    "hook_events",
    metadata,
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("body", sa.Text, nullable=False),  # the IntegrationEvent record
    sa.Column("created_at", UtcDateTime, nullable=False),
)

hook_deliveries = sa.Table(
    "hook_deliveries",
    metadata,
    sa.Column(
        "hook_id", sa.String(36), sa.ForeignKey("hooks.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("company_id", sa.String(36), nullable=False),
    sa.Column("state", sa.String(10), nullable=False),  # pending | delivered | failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UtcDateTime),  # due (or leased until) while pending
    sa.Column("created_at", UtcDateTime, nullable=False),
)

hook_attempts = sa.Table(
    "hook_attempts",
    metadata,
    sa.Column(
        "hook_id", sa.String(36), sa.ForeignKey("hooks.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("attempt", sa.Integer, primary_key=True),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("status_code", sa.Integer),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("error", sa.String(200)),
    sa.Column("next_attempt_at", UtcDateTime),
)

integration_outbox = sa.Table(
    "integration_outbox",
    metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

hook_event_numbers = sa.Table(
    "hook_event_numbers",
    metadata,
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), primary_key=True),
    sa.Column("number_key", sa.String(32), primary_key=True),
    sa.Column("event_id", sa.String(64), primary_key=True),
)

erasures = sa.Table(
    "erasures",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),  # number | employee
    sa.Column("number_key", sa.String(32)),  # forgotten once done
    sa.Column("employee_id", sa.String(36)),
    sa.Column("devices", sa.Text, nullable=False),  # JSON list of device ids
    sa.Column("suppress", sa.Boolean, nullable=False),
    sa.Column("status", sa.String(8), nullable=False),  # pending | done
    sa.Column("counts", sa.Text, nullable=False),  # JSON
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("issued_at", UtcDateTime),  # ClickHouse mutations sent
    sa.Column("done_at", UtcDateTime),
)

suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), primary_key=True),
    sa.Column("number_key", sa.String(32), primary_key=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

exports = sa.Table(
    "exports",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("status", sa.String(8), nullable=False),  # pending | running | done | failed
    sa.Column("requested_at", UtcDateTime, nullable=False),
    sa.Column("leased_until", UtcDateTime),  # a worker writes it until then
    sa.Column("done_at", UtcDateTime),
    sa.Column("expires_at", UtcDateTime),
    sa.Column("path", sa.String(500)),
    sa.Column("size_bytes", sa.BigInteger),
    sa.Column("counts", sa.Text, nullable=False),  # JSON: rows per file
    sa.Column("error", sa.String(200)),
)

enrollment_codes = sa.Table(
    "enrollment_codes",
    metadata,
    sa.Column("code_hash", sa.String(64), primary_key=True),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("employee_id", sa.String(36), sa.ForeignKey("employees.id"), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("used_at", UtcDateTime),
    sa.Column("id", sa.String(36), unique=True),  # migration 0012: the QR code's URL names this
    sa.Column("sealed_code", sa.Text),  # the code, sealed with the company's key (for its QR)
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("employee_id", sa.String(36), sa.ForeignKey("employees.id"), nullable=False),
    sa.Column("hardware_id", sa.String(128), nullable=False),
    sa.Column("brand", sa.String(64), nullable=False),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("android_version", sa.String(32), nullable=False),
    sa.Column("sdk_int", sa.Integer, nullable=False),
    sa.Column("app_version", sa.String(64), nullable=False),
    sa.Column("app_version_code", sa.Integer, nullable=False),
    sa.Column("fcm_token", sa.Text),
    sa.Column("sims", sa.Text, nullable=False),
    sa.Column("enrolled_at", UtcDateTime, nullable=False),
    sa.Column("status_at", UtcDateTime),
    sa.Column("fcm_token_invalid_at", UtcDateTime),
    sa.Column("sync_pushed_at", UtcDateTime),
    sa.Column("revoked_at", UtcDateTime),
    sa.UniqueConstraint("company_id", "hardware_id"),
)

device_tokens = sa.Table(
    "device_tokens",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("device_id", sa.String(36), sa.ForeignKey("devices.id"), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime),
)

# migration 0019 (core/notices): the digests' sent-log, the console's notifications, policies
digest_log = sa.Table(
    "digest_log",
    metadata,
    sa.Column("recipient_id", sa.String(36), primary_key=True),  # a user's or an employee's
    sa.Column("local_day", sa.String(10), primary_key=True),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("kind", sa.String(8), nullable=False),
    sa.Column("claimed_at", UtcDateTime, nullable=False),
    sa.Column("mail_id", sa.String(36), nullable=False),
    sa.Column("unsubscribe_hash", sa.String(64), nullable=False),
)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), nullable=False),
    sa.Column("notice_key", sa.String(200), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Column("kind", sa.String(40), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("link", sa.String(300)),
    sa.Column("read_at", UtcDateTime),
)

policies = sa.Table(
    "policies",
    metadata,
    sa.Column("kind", sa.String(10), primary_key=True),
    sa.Column("version", sa.String(40), primary_key=True),
    sa.Column("url", sa.String(500), nullable=False),
    sa.Column("published_at", UtcDateTime, nullable=False),
)

policy_acceptances = sa.Table(
    "policy_acceptances",
    metadata,
    sa.Column("user_id", sa.String(36), sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("kind", sa.String(10), primary_key=True),
    sa.Column("version", sa.String(40), primary_key=True),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("accepted_at", UtcDateTime, nullable=False),
)

# migration 0020: a company's subscription at a billing provider (core/billing/state.py `Account`)
billing_accounts = sa.Table(
    "billing_accounts",
    metadata,
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), primary_key=True),
    sa.Column("provider", sa.String(16), nullable=False),
    sa.Column("customer_id", sa.String(100)),
    sa.Column("customer_key", sa.String(120), nullable=False, server_default=""),
    sa.Column("subscription_id", sa.String(100)),
    sa.Column("subscription_key", sa.String(120), nullable=False, server_default=""),
    sa.Column("status", sa.String(16)),
    sa.Column("status_key", sa.String(120), nullable=False, server_default=""),
    sa.Column("status_ends_at", UtcDateTime),
    sa.Column("status_since", UtcDateTime),
    sa.Column("cancel_reason", sa.String(1000)),
    sa.Column("latest_plan", sa.String(20)),
    sa.Column("plan_key", sa.String(120), nullable=False, server_default=""),
    sa.Column("period_end", UtcDateTime),
    sa.Column("period_plan", sa.String(20)),
)

billing_events = sa.Table(
    "billing_events",
    metadata,
    sa.Column("provider", sa.String(16), primary_key=True),
    sa.Column("event_id", sa.String(100), primary_key=True),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("kind", sa.String(60), nullable=False),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("received_at", UtcDateTime, nullable=False),
)

billing_invoices = sa.Table(
    "billing_invoices",
    metadata,
    sa.Column("provider", sa.String(16), primary_key=True),
    sa.Column("invoice_id", sa.String(100), primary_key=True),
    sa.Column("company_id", sa.String(36), sa.ForeignKey("companies.id"), nullable=False),
    sa.Column("number", sa.String(100)),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("amount", sa.BigInteger, nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("url", sa.String(1000)),
)

schema_migrations = sa.Table(
    "schema_migrations",
    sa.MetaData(),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("applied_at", UtcDateTime, nullable=False),
)


ROWS_PER_INSERT = 1_000  # 8 columns each: inside SQLite's 32,766 parameters


def insert_new(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> list[Any]:
    """Insert `rows`, skipping those whose primary key exists; the primary keys inserted (one
    statement, so two writers of the same row cannot both count it)."""
    if not rows:
        return []
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    keys = list(table.primary_key.columns)
    inserted: list[tuple[Any, ...]] = []
    for start in range(0, len(rows), ROWS_PER_INSERT):
        statement = (
            dialect.insert(table)
            .values(list(rows[start : start + ROWS_PER_INSERT]))
            .on_conflict_do_nothing()
            .returning(*keys)
        )
        inserted.extend(tuple(row) for row in conn.execute(statement))
    return inserted


def make_engine(url: str) -> Engine:
    """An engine for SQLite (embedded) or PostgreSQL (`postgresql+psycopg://...`)."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        database = sa.engine.make_url(url).database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
    engine = sa.create_engine(url, **kwargs)
    if url.startswith("sqlite"):

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # WAL's recommended durability: a commit is safe from crashes of the process, the
            # last ones may be lost only to a power cut (then Kafka still holds what arrived);
            # an fsync per commit made the webhook delivery log the bound (BENCHMARKS.md)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # a deleted row's bytes are overwritten, not left in free pages (erasures, mail)
            cursor.execute("PRAGMA secure_delete=ON")
            cursor.close()

    return engine


def forget_deleted(engine: Engine, within_s: float = 60.0) -> bool:
    """After deletions that must not linger (an erasure): on SQLite, copy the write-ahead log
    into the database and truncate it, so no old page image holds the deleted rows (the
    database's own pages are overwritten on delete: `secure_delete`). A checkpoint cannot copy
    pages past what a reader of another process still holds (it answers busy): it is tried
    again until it completes, for up to `within_s`; whether it did. PostgreSQL's dead tuples are
    vacuumed by autovacuum; its WAL archive is kept as long as the operator keeps it."""
    if engine.dialect.name != "sqlite":
        return True
    give_up = time.monotonic() + within_s
    while True:
        with engine.connect() as conn:
            busy, _pages, _copied = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
        if not busy:
            return True
        if time.monotonic() > give_up:
            log.warning(
                "the SQLite checkpoint stayed busy for %.0f s: tried again next time", within_s
            )
            return False
        time.sleep(0.1)


def bulk_insert(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """Many rows with the same keys: PostgreSQL's COPY (through psycopg; 2.4x faster than an
    executemany for a 10,000-lead import, BENCHMARKS.md), an executemany elsewhere."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(table.insert(), rows)
        return
    names = list(rows[0])
    processors = [table.c[name].type.bind_processor(conn.dialect) for name in names]
    columns = ", ".join(f'"{name}"' for name in names)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row(
                [
                    value if process is None or value is None else process(value)
                    for process, value in zip(processors, (row[n] for n in names), strict=True)
                ]
            )


def pending(engine: Engine) -> list[Migration]:
    """The numbered controlplane/*.sql migrations not applied yet, in order."""
    schema_migrations.create(engine, checkfirst=True)
    with engine.connect() as conn:
        applied = {row.version for row in conn.execute(sa.select(schema_migrations.c.version))}
    return numbered_migrations("controlplane", applied)


def migrate(engine: Engine, up_to: int | None = None, contract: bool = False) -> list[str]:
    """Apply pending migrations (up to version `up_to`, all by default; a contract migration and
    those after it only with `contract`), each in its own transaction; returns the names
    applied."""
    done = []
    for migration in pending(engine):
        if (up_to is not None and migration.version > up_to) or not ready(migration, contract):
            break
        with engine.begin() as conn:
            for statement in migration.statements:
                conn.exec_driver_sql(statement)
            conn.execute(
                schema_migrations.insert().values(
                    version=migration.version, name=migration.name, applied_at=utc_now()
                )
            )
        log.info("control plane: applied migration %s", migration.name)
        done.append(migration.name)
    return done


LEAD_PLAN = "basic_lead"  # the plan with leads (API.md "Leads")


@dataclass(frozen=True, slots=True)
class Company:
    id: str
    name: str
    country: str
    timezone: str
    plan: str
    wrapped_data_key: str
    stale_after_s: int
    status: str = "active"  # as last set (see core/accounts/subscription.py)
    period_end: datetime | None = None
    ended_at: datetime | None = None  # deactivated from then on
    retention_days: int | None = None
    rollup_zone: str | None = None  # local days and hours complete here (core/calls/aggregates.py)
    client_states_from: datetime | None = None  # core/calls/client_states.py
    created_at: datetime | None = None

    @property
    def has_leads(self) -> bool:
        return self.plan == LEAD_PLAN


def load_company(conn: Connection, company_id: str) -> Company | None:
    row = conn.execute(sa.select(companies).where(companies.c.id == company_id)).first()
    if row is None:
        return None
    return Company(
        id=row.id,
        name=row.name,
        country=row.country,
        timezone=row.timezone,
        plan=row.plan,
        wrapped_data_key=row.wrapped_data_key,
        stale_after_s=row.stale_after_s,
        status=row.status,
        period_end=row.period_end,
        ended_at=row.ended_at,
        retention_days=row.retention_days,
        rollup_zone=row.rollup_zone,
        client_states_from=row.client_states_from,
        created_at=row.created_at,
    )


def delete_company(conn: Connection, company_id: str) -> None:
    """Every row of the company in every table, its wrapped data key last (the purge)."""
    users_of = sa.select(users.c.id).where(users.c.company_id == company_id)
    devices_of = sa.select(devices.c.id).where(devices.c.company_id == company_id)
    hooks_of = sa.select(hooks.c.id).where(hooks.c.company_id == company_id)
    emails = conn.execute(sa.select(users.c.email).where(users.c.company_id == company_id))
    hashes = [digest(email) for email in emails.scalars()]  # as sign-in stores them
    conn.execute(login_failures.delete().where(login_failures.c.email_hash.in_(hashes)))
    conn.execute(user_tokens.delete().where(user_tokens.c.user_id.in_(users_of)))
    conn.execute(access_tokens.delete().where(access_tokens.c.user_id.in_(users_of)))
    conn.execute(device_tokens.delete().where(device_tokens.c.device_id.in_(devices_of)))
    conn.execute(hook_attempts.delete().where(hook_attempts.c.hook_id.in_(hooks_of)))
    conn.execute(hook_deliveries.delete().where(hook_deliveries.c.hook_id.in_(hooks_of)))
    for table in reversed(metadata.sorted_tables):
        if table is not companies and "company_id" in table.c:
            conn.execute(table.delete().where(table.c.company_id == company_id))
    conn.execute(companies.delete().where(companies.c.id == company_id))
