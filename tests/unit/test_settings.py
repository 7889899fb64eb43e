"""Settings and the master key: generated only in local mode, required elsewhere."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from core.settings import MissingSetting, Settings, UnsafeSettings
from core.topics import topic_specs
from deploy.runtime import resolve_master_key


def test_local_mode_generates_and_reuses_a_private_key(tmp_path: Path) -> None:
    settings = Settings(environment="local", data_dir=tmp_path, master_key="")
    key = resolve_master_key(settings)
    assert len(key) == 32
    assert (tmp_path / "master.key").stat().st_mode & 0o777 == 0o600
    assert resolve_master_key(settings) == key


def test_the_test_environment_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    settings = Settings(environment="test", data_dir=tmp_path, master_key="")
    with pytest.raises(MissingSetting, match="CLOSECALL_MASTER_KEY is unset"):
        resolve_master_key(settings)
    assert not (tmp_path / "master.key").exists()


SAFE = {
    "environment": "production",
    "master_key": base64.b64encode(bytes(32)).decode(),
    "database_url": "postgresql://closecall@db/closecall",
    "clickhouse_url": "clickhouse://ch:9000/closecall",
    "signup_enabled": False,
    "fcm_credentials_file": "/run/secrets/fcm.json",
    "smtp_url": "smtp://mail.example:587",
    "public_url": "https://calls.example",
    "ingest_public_url": "https://ingest.calls.example",
    "topic_replication": 3,
}


def test_production_refuses_unsafe_settings_naming_each() -> None:
    with pytest.raises(UnsafeSettings) as refused:
        Settings(environment="production", master_key="", cors_origins=["*"])
    message = str(refused.value)
    for variable in (
        "CLOSECALL_MASTER_KEY",
        "CLOSECALL_DATABASE_URL",
        "CLOSECALL_CLICKHOUSE_URL",
        "CLOSECALL_CORS_ORIGINS",
    ):
        assert variable in message


def test_production_refuses_half_configured_billing() -> None:
    with pytest.raises(UnsafeSettings) as refused:
        Settings(
            environment="production",
            stripe_webhook_secret="whsec_1",  # no API key, no prices
            razorpay_webhook_secret="s",
            razorpay_key_secret="k",
            razorpay_plans={"basic": "plan_1"},
            razorpay_api_base="http://127.0.0.1:9",
        )
    message = str(refused.value)
    assert "CLOSECALL_STRIPE_WEBHOOK_SECRET is set without the API key" in message
    assert "CLOSECALL_RAZORPAY_WEBHOOK_SECRET" not in message  # complete
    assert "CLOSECALL_RAZORPAY_API_BASE points the SDK at a test stub" in message
    with pytest.raises(ValueError, match="unknown plans"):
        Settings(stripe_prices={"gold": "price_1"})


def test_production_only_warns_about_risky_settings(caplog: pytest.LogCaptureFixture) -> None:
    assert Settings(**SAFE).environment == "production"  # type: ignore[arg-type]
    assert not caplog.records
    risky = {"signup_enabled": True, "fcm_credentials_file": None, "topic_replication": 1}
    Settings(**{**SAFE, **risky, "public_url": "", "ingest_public_url": ""})  # type: ignore[arg-type]
    assert "public signup is on" in caplog.text and "FCM pushes are off" in caplog.text
    assert "CLOSECALL_PUBLIC_URL" in caplog.text and "CLOSECALL_INGEST_PUBLIC_URL" in caplog.text
    assert "CLOSECALL_TOPIC_REPLICATION=1" in caplog.text
    caplog.clear()
    Settings(**{**SAFE, "public_url": "http://calls.example"})  # type: ignore[arg-type]
    assert "CLOSECALL_PUBLIC_URL is http" in caplog.text
    assert "CLOSECALL_INGEST_PUBLIC_URL is http" not in caplog.text


def test_topics_are_kept_on_as_many_brokers_as_asked() -> None:
    alone = topic_specs(Settings(environment="test"))
    assert {(t.replication_factor, t.topic_configs.get("min.insync.replicas")) for t in alone} == {
        (1, None)
    }
    three = topic_specs(Settings(**SAFE))  # type: ignore[arg-type]
    assert {(t.replication_factor, t.topic_configs["min.insync.replicas"]) for t in three} == {
        (3, "2")
    }
    raw = {t.name: t.topic_configs["retention.ms"] for t in three}
    assert raw["calls.raw"] == str(24 * 3600 * 1000)  # plaintext numbers: a day at most


@pytest.mark.parametrize(
    ("value", "reason"),
    [("not base64!", "not valid base64"), (base64.b64encode(b"short").decode(), "32 bytes")],
)
def test_bad_master_keys_are_named(value: str, reason: str) -> None:
    with pytest.raises(MissingSetting, match=reason):
        Settings(environment="test", master_key=value).master_key_bytes()


def test_environment_variables_and_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    key = base64.b64encode(os.urandom(32)).decode()
    monkeypatch.setenv("CLOSECALL_MASTER_KEY", key)
    monkeypatch.setenv("CLOSECALL_KAFKA_BOOTSTRAP", "kafka://broker:9092")
    monkeypatch.setenv("CLOSECALL_DATA_DIR", "/var/lib/closecall")
    settings = Settings()
    assert settings.master_key_bytes() == base64.b64decode(key)
    assert settings.kafka_bootstrap == "broker:9092"
    assert settings.database_url == "sqlite:////var/lib/closecall/control.db"
    assert settings.clickhouse_url == "chdb:///var/lib/closecall/chdb"
    assert "CLOSECALL" not in repr(settings) and key not in repr(settings)


def test_a_variable_set_to_nothing_is_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a compose file's `${VAR:-}` passes: a path of nothing is no path, a JSON map of
    nothing is none."""
    for name in ("FCM_CREDENTIALS_FILE", "EXPORT_DIR", "STRIPE_PRICES", "RAZORPAY_PLANS"):
        monkeypatch.setenv(f"CLOSECALL_{name}", "")
    settings = Settings(master_key="")
    assert settings.fcm_credentials_file is None and settings.export_dir is None
    assert settings.stripe_prices == {} and settings.razorpay_plans == {}
    monkeypatch.setenv("CLOSECALL_STRIPE_PRICES", '{"basic": "price_1"}')
    assert Settings(master_key="").stripe_prices == {"basic": "price_1"}
