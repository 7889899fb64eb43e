"""The one settings object: every service reads its configuration from CLOSECALL_* environment variables."""

from __future__ import annotations

import base64
import binascii
import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

log = logging.getLogger(__name__)
LOCAL_DATA_DIR = Path(".closecall")


class MissingSetting(RuntimeError):
    """A required setting is unset; the message names the environment variable to set."""


class UnsafeSettings(MissingSetting):
    """Settings a production deployment must not run with; the message names each variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CLOSECALL_", extra="ignore")

    # "local" is the embedded one-command stack; "production" refuses unsafe settings and warns
    # about risky ones (`production_problems`); "test" is what the suite runs.
    environment: Literal["local", "test", "production"] = "local"
    data_dir: Path = LOCAL_DATA_DIR

    database_url: str = ""  # default: SQLite under data_dir
    kafka_bootstrap: str = "127.0.0.1:9092"
    # chdb://<dir> (embedded, default under data_dir) or clickhouse://host:port/database
    clickhouse_url: str = ""
    # replicated tables (deploy/README.md "Replication"): the ZooKeeper path the migrations put
    # each table under (`<path>/<database>/<table>`; `{shard}` is the server's macro) and the
    # cluster in the server's remote_servers whose replicas of its shard they run on
    clickhouse_replication_path: str = ""
    clickhouse_cluster: str = ""
    # base64 of 32 random bytes; wraps every company's data key.
    master_key: str = Field(default="", repr=False)

    ingest_host: str = "127.0.0.1"
    ingest_port: int = 8000
    # where phones reach ingest (put in enrolment QR codes); default http://ingest_host:ingest_port
    ingest_public_url: str = ""
    api_host: str = "127.0.0.1"
    api_port: int = 8001
    signup_enabled: bool = True
    # signups per client address: a burst, then one per this many seconds
    signup_burst: int = 5
    signup_interval_s: float = 60.0
    # password-reset requests: per email address a burst, then one per this many seconds; per
    # client address likewise (answers are the same for every email; these stop mail floods)
    reset_address_burst: int = 3
    reset_address_interval_s: float = 600.0
    reset_client_burst: int = 10
    reset_client_interval_s: float = 60.0
    # browser origins allowed to call the APIs (CORS), comma-separated; none by default
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # the reverse proxy's addresses (or networks), comma-separated: only a request from them has
    # its X-Forwarded-For / -Proto believed (the client address the sign-in throttle and the
    # audit log see); none by default: the connection's own address counts
    trusted_proxies: str = ""

    max_batch: int = 500
    max_body_bytes: int = Field(default=1_048_576, le=16 * 1024 * 1024)  # UPLOAD_BODY_CEILING
    device_cache_ttl_s: float = 10.0
    # per device: uploads per second sustained and in a burst (phones back online upload a backlog)
    device_rate_per_s: float = 5.0
    device_rate_burst: int = 30
    max_future_skew_s: int = 24 * 3600  # a call starting later than this from now is rejected
    kafka_ack_timeout_ms: int = 5_000
    retry_after_s: int = 5

    topic_calls_raw: str = "calls.raw"
    topic_device_status: str = "device.status"
    topic_contacts_raw: str = "contacts.raw"
    topic_call_notes: str = "call.notes"
    topic_dead_letter: str = "closecall.dead-letter"
    topic_integration_events: str = "integration.events"
    topic_partitions: int = 4
    # copies of every topic on the brokers; production runs 3 (deploy/compose.yaml), and
    # min.insync.replicas is one fewer, so an acknowledged record is on two brokers at least
    topic_replication: int = Field(default=1, ge=1)
    raw_retention_ms: int = 24 * 3600 * 1000

    worker_group: str = "closecall-worker"
    # Static group membership: a restarted worker takes its partitions back at once.
    worker_instance_id: str = "worker-1"
    # worker batch: this many Kafka records (each up to 100 calls) or this long, whichever first
    flush_max_records: int = 200
    flush_interval_ms: int = 500
    kafka_session_timeout_s: float = 6.0
    # an idle consumer on a broker that answers empty fetches at once (noida-db) pauses up to
    # this long between them (streams/fetch_backoff.py): the first records after an idle spell
    # wait at most this much more; 1 s keeps an idle stack under 2% of a core
    fetch_idle_pause_max_ms: int = Field(default=1000, ge=5, le=10_000)
    log_level: Literal["debug", "info", "warn", "error"] = "info"

    # FCM (firebase-admin): a service-account JSON file; without it pushes are off
    fcm_credentials_file: Path | None = None
    fcm_project_id: str = ""  # default: the service account's project
    stale_check_interval_s: float = 60.0
    # email (invitations, password resets): smtp[s]://[user:password@]host[:port]; without it
    # messages go to the log in local mode
    smtp_url: str = Field(default="", repr=False)
    mail_from: str = "closecall <no-reply@localhost>"
    mail_interval_s: float = 1.0  # the worker looks for queued email this often
    digest_interval_s: float = 30.0  # the worker looks for due digests this often
    # false: the worker sends no digest at all (users' settings stay; the tests' stacks, whose
    # mail would otherwise depend on the time of day they run at)
    digests_enabled: bool = True
    # tests only (refused in production): a file holding the instant the worker's timed rounds
    # take as now (core/clock.py `file_clock`), so an end-to-end test moves a real worker's day
    clock_file: Path | None = None
    # where people open links from emails (the report API or the console in front of it)
    public_url: str = ""  # default: http://api_host:api_port
    # REST hooks: targets on loopback/private/link-local addresses and plain http are refused
    # unless this is true (default: true only when CLOSECALL_ENVIRONMENT=local)
    hooks_allow_private: bool | None = None
    hook_timeout_s: float = 15.0
    hook_concurrency: int = 256  # deliveries in flight at once, over every target
    hook_per_target: int = 32  # in flight to one hook: a slow receiver holds only these
    # a delivery taken by a worker is due again after this long if its worker died
    hook_lease_s: float = 60.0
    # multiplies the retry schedule (5 s ... 24 h): 1 in production; fault drills shorten it
    hook_retry_scale: float = 1.0
    # the hooks worker's batch window: its batches are one transaction, not a ClickHouse insert,
    # so a short one costs little under load; but an idle worker wakes this often (faust's take
    # window): 50 ms cost an idle stack 0.5% of a core, 200 ms a tenth of that, for at most
    # 150 ms more from an upload to its webhook (BENCHMARKS.md "Idle")
    hook_flush_interval_ms: int = 200
    hook_poll_interval_s: float = 1.0  # due deliveries and the lead outbox are read this often
    # the change feeds (API.md "Change feeds"): a page of calls reads what ClickHouse stored
    # this many seconds ago and before (core/calls/changes.py: an insert must end within it)
    change_feed_settle_s: int = Field(default=5, ge=1)
    # privacy and the subscription (API.md "Privacy", "Subscription"): the worker's leader runs
    # erasures, retention, deactivation and purges this often; a deactivated company is purged
    # this many days after its period ended; company archives are written here (a volume the
    # worker writes and the report API reads)
    privacy_interval_s: float = 1.0
    export_grace_days: int = Field(default=5, ge=0)
    export_dir: Path | None = None  # default: <data_dir>/exports
    mutation_timeout_s: float = 600.0
    # Prometheus metrics (deploy/README.md "Metrics"): ingest and the report API serve /metrics on
    # their own port; the worker and the hooks worker each on one of these (0: not served; in
    # local mode the report API's /metrics has the worker's too); lag is measured this often
    metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = 9102
    hooks_metrics_port: int = 9103
    lag_interval_s: float = 15.0  # as often as Prometheus scrapes by default
    # `closecall rotate-master-key`: the key the data keys were wrapped under until now,
    # accepted beside CLOSECALL_MASTER_KEY until the rotation finished
    master_key_previous: str = Field(default="", repr=False)
    # billing providers (docs/BILLING.md): each on only when its webhook secret is set; prices
    # and plans map the product's plans to the provider's ids as JSON, e.g.
    # {"basic": "price_1Q...", "basic_lead": "price_1R..."}; the API bases are for tests only
    # (a local stub of the provider's API, as FCM's)
    stripe_api_key: str = Field(default="", repr=False)
    stripe_webhook_secret: str = Field(default="", repr=False)
    stripe_prices: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    stripe_api_base: str = ""
    razorpay_key_id: str = ""
    razorpay_key_secret: str = Field(default="", repr=False)
    razorpay_webhook_secret: str = Field(default="", repr=False)
    razorpay_plans: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict)
    razorpay_api_base: str = ""
    # `closecall fleet`: the simulated company's API key (or --api-key-file)
    fleet_api_key: str = Field(default="", repr=False)

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("fcm_credentials_file", "clock_file", "export_dir", mode="before")
    @classmethod
    def _unset_when_empty(cls, value: object) -> object:
        """A path set to nothing (a compose file's unset `${VAR:-}`) is no path, not `.`."""
        return None if value == "" else value

    @field_validator("stripe_prices", "razorpay_plans", mode="before")
    @classmethod
    def _json_object(cls, value: object) -> object:
        """JSON from the environment; empty (a compose file's unset `${VAR:-}`) is none."""
        if isinstance(value, str):
            return json.loads(value) if value.strip() else {}
        return value

    @field_validator("stripe_prices", "razorpay_plans")
    @classmethod
    def _known_plans(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - {"basic", "basic_lead"})
        if unknown:
            raise ValueError(f"unknown plans {unknown}: the plans are basic and basic_lead")
        return value

    @field_validator("kafka_bootstrap")
    @classmethod
    def _strip_scheme(cls, value: str) -> str:
        return value.removeprefix("kafka://")

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'control.db'}"
        if not self.clickhouse_url:
            self.clickhouse_url = f"chdb://{self.data_dir / 'chdb'}"
        if not self.public_url:
            self.public_url = f"http://{self.api_host}:{self.api_port}"
        if not self.ingest_public_url:
            self.ingest_public_url = f"http://{self.ingest_host}:{self.ingest_port}"
        if self.clickhouse_replication_path and not self.clickhouse_cluster:
            raise ValueError(
                "CLOSECALL_CLICKHOUSE_REPLICATION_PATH needs CLOSECALL_CLICKHOUSE_CLUSTER: the"
                " cluster in the server's remote_servers whose replicas the migrations run on"
            )
        return self

    @property
    def archive_dir(self) -> Path:
        return self.export_dir or self.data_dir / "exports"

    @property
    def private_hooks_allowed(self) -> bool:
        if self.hooks_allow_private is None:
            return self.environment == "local"
        return self.hooks_allow_private

    @property
    def secure_cookies(self) -> bool:
        """The console's cookies are `Secure` (https only) outside local mode."""
        return self.environment != "local"

    @model_validator(mode="after")
    def _safe_for_production(self) -> Settings:
        if self.environment == "production":
            refused, warnings = production_problems(self)
            for warning in warnings:
                log.warning("settings: %s", warning)
            if refused:
                raise UnsafeSettings("production refuses: " + "; ".join(refused))
        return self

    def master_key_bytes(self) -> bytes:
        """The decoded master key; the local stack writes one into data_dir, elsewhere it must be set."""
        if not self.master_key:
            raise MissingSetting(
                "CLOSECALL_MASTER_KEY is unset: set it to base64 of 32 random bytes "
                '(python -c "import os,base64;print(base64.b64encode(os.urandom(32)).decode())")'
            )
        return decode_master_key(self.master_key, "CLOSECALL_MASTER_KEY")

    def previous_master_key_bytes(self) -> bytes | None:
        if not self.master_key_previous:
            return None
        return decode_master_key(self.master_key_previous, "CLOSECALL_MASTER_KEY_PREVIOUS")


def decode_master_key(value: str, source: str) -> bytes:
    try:
        key = base64.b64decode(value.strip(), validate=True)
    except binascii.Error as exc:
        raise MissingSetting(f"{source} is not valid base64") from exc
    if len(key) != 32:
        raise MissingSetting(f"{source} must decode to 32 bytes, not {len(key)}")
    return key


def production_problems(settings: Settings) -> tuple[list[str], list[str]]:
    """What production refuses to start with, and what it only warns about."""
    refused, warnings = [], []
    if not settings.master_key:
        refused.append("CLOSECALL_MASTER_KEY is unset (base64 of 32 random bytes)")
    if settings.database_url.startswith("sqlite"):
        refused.append("CLOSECALL_DATABASE_URL is SQLite: set postgresql://...")
    if settings.clickhouse_url.startswith("chdb://"):
        refused.append("CLOSECALL_CLICKHOUSE_URL is embedded chDB: set clickhouse://host:9000/db")
    if settings.topic_replication < 3:
        warnings.append(
            f"CLOSECALL_TOPIC_REPLICATION={settings.topic_replication}: a broker lost loses"
            " acknowledged records; run three brokers and set it to 3"
        )
    if settings.clock_file is not None:
        refused.append("CLOSECALL_CLOCK_FILE sets the worker's clock for tests: unset it")
    if "*" in settings.cors_origins:
        refused.append("CLOSECALL_CORS_ORIGINS allows every origin (*): list the origins")
    if settings.hooks_allow_private:
        refused.append(
            "CLOSECALL_HOOKS_ALLOW_PRIVATE=true lets webhooks reach internal addresses: unset it"
        )
    if settings.hook_retry_scale != 1.0:
        refused.append("CLOSECALL_HOOK_RETRY_SCALE is not 1: webhooks would not retry for a day")
    for name, secret, key, ids, base in (
        (
            "STRIPE",
            settings.stripe_webhook_secret,
            settings.stripe_api_key,
            settings.stripe_prices,
            settings.stripe_api_base,
        ),
        (
            "RAZORPAY",
            settings.razorpay_webhook_secret,
            settings.razorpay_key_secret,
            settings.razorpay_plans,
            settings.razorpay_api_base,
        ),
    ):
        ids_name = "PRICES" if name == "STRIPE" else "PLANS"
        if base:
            refused.append(f"CLOSECALL_{name}_API_BASE points the SDK at a test stub: unset it")
        if secret and not (key and ids):
            refused.append(
                f"CLOSECALL_{name}_WEBHOOK_SECRET is set without the API key or "
                f"CLOSECALL_{name}_{ids_name}: set both (docs/BILLING.md)"
            )
    if settings.signup_enabled:
        warnings.append("public signup is on (CLOSECALL_SIGNUP_ENABLED=false switches it off)")
    if settings.fcm_credentials_file is None:
        warnings.append("FCM pushes are off (CLOSECALL_FCM_CREDENTIALS_FILE is unset)")
    if not settings.smtp_url:
        warnings.append(
            "no email is sent (CLOSECALL_SMTP_URL is unset): invitations and resets fail"
        )
    if is_loopback(settings.public_url):
        warnings.append(
            "CLOSECALL_PUBLIC_URL is a loopback address: links in mails open nowhere; set the "
            "URL people reach the console at"
        )
    if is_loopback(settings.ingest_public_url):
        warnings.append(
            "CLOSECALL_INGEST_PUBLIC_URL is a loopback address: phones cannot enrol from the "
            "console's QR codes; set the URL phones reach ingest at"
        )
    for name, url in (
        ("CLOSECALL_PUBLIC_URL", settings.public_url),
        ("CLOSECALL_INGEST_PUBLIC_URL", settings.ingest_public_url),
    ):
        if url.startswith("http://") and not is_loopback(url):
            warnings.append(
                f"{name} is http: sign-in needs https (Secure cookies) and numbers would cross "
                'the network in the clear; put the TLS edge in front (docs/OPERATIONS.md "TLS")'
            )
    if settings.log_level == "debug":
        warnings.append("CLOSECALL_LOG_LEVEL=debug logs more than production needs")
    return refused, warnings


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host == "localhost" or host.startswith("127.") or host == "::1"


@lru_cache
def get_settings() -> Settings:
    return Settings()
