"""deploy/compose.yaml's closecall services, each started once as a process with the command and
environment the compose file gives it (and the image's ENV from deploy/Dockerfile): the
production entry points run, not only parse. Only where things are differs: the containers'
host names become this machine's servers (one broker: no three-way replication here), and
ports are free ones."""

from __future__ import annotations

import base64
import functools
import os
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import yaml

from deploy.local_stack import ChildProcess, free_port, http_ok, wait_until
from tests.support.services import Broker, PostgresDatabase, ReplicatedPair
from tests.support.smtp import smtp_server
from tests.support.stack import ROOT

DEPLOY = ROOT / "deploy"
VARIABLE = re.compile(r"\$\{(\w+)(?::([?-])([^}]*))?\}")


def substituted(value: str, variables: dict[str, str]) -> str:
    """Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR:?error} (an error when unset)."""

    def one(match: re.Match[str]) -> str:
        name, kind, rest = match.groups()
        if variables.get(name):
            return variables[name]
        if kind == "?":
            raise KeyError(f"{name}: {rest}")
        return rest if kind == "-" else ""

    return VARIABLE.sub(one, value)


def image_env() -> dict[str, str]:
    """The ENV instruction of deploy/Dockerfile."""
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    (line,) = [line for line in text.splitlines() if line.startswith("ENV ")]
    return dict(pair.split("=", 1) for pair in line.split()[1:])


def test_every_closecall_service_starts_with_its_compose_command(
    broker: Broker, replicated_pair: ReplicatedPair, tmp_path: Path
) -> None:
    compose: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    ours = {
        name: service
        for name, service in compose["services"].items()
        if str(service.get("image", "")).startswith("closecall:")
    }
    assert set(ours) == {"migrate", "ingest", "worker-1", "api"}
    database = PostgresDatabase()
    with smtp_server() as (smtp_url, _inbox):
        variables = {
            "CLOSECALL_MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "POSTGRES_PASSWORD": "unused-here",
            "CLOSECALL_PUBLIC_HOST": "calls.closecall.test",
            "CLOSECALL_INGEST_HOST": "ingest.closecall.test",
            "CLOSECALL_SMTP_URL": smtp_url,
            "CLOSECALL_MAIL_FROM": "closecall <no-reply@closecall.test>",
        }
        where = {  # the containers' addresses -> this machine's servers
            "CLOSECALL_DATABASE_URL": database.url,
            "CLOSECALL_CLICKHOUSE_URL": replicated_pair.first.url(
                f"compose_{uuid.uuid4().hex[:8]}"
            ),
            "CLOSECALL_KAFKA_BOOTSTRAP": broker.bootstrap,
            "CLOSECALL_TOPIC_REPLICATION": "1",  # one broker here
            "CLOSECALL_EXPORT_DIR": str(tmp_path / "exports"),
            "CLOSECALL_INGEST_PORT": str(free_port()),
            "CLOSECALL_API_PORT": str(free_port()),
            "CLOSECALL_WORKER_METRICS_PORT": str(free_port()),
            "CLOSECALL_HOOKS_METRICS_PORT": str(free_port()),
            "CLOSECALL_INGEST_HOST": "127.0.0.1",
            "CLOSECALL_API_HOST": "127.0.0.1",
            **{
                f"CLOSECALL_TOPIC_{t}": f"{t.lower()}.{uuid.uuid4().hex[:6]}"
                for t in (
                    "CALLS_RAW",
                    "DEAD_LETTER",
                    "CONTACTS_RAW",
                    "CALL_NOTES",
                    "INTEGRATION_EVENTS",
                    "DEVICE_STATUS",
                )
            },
        }

        def env_of(service: dict[str, Any]) -> dict[str, str]:
            declared = {
                k: substituted(str(v), variables) for k, v in service["environment"].items()
            }
            assert declared["CLOSECALL_PUBLIC_URL"] == "https://calls.closecall.test"
            assert declared["CLOSECALL_CLICKHOUSE_REPLICATION_PATH"]  # replicated, as in production
            return {
                **{k: v for k, v in os.environ.items() if not k.startswith("CLOSECALL_")},
                "PYTHONPATH": str(ROOT),
                **image_env(),
                **declared,
                **where,
            }

        started: list[ChildProcess] = []
        try:
            for name in ("migrate", "ingest", "worker-1", "api"):
                service = ours[name]
                argv = [sys.executable, "-m", "deploy.cli", *service["command"]]
                child = ChildProcess(name, argv, tmp_path, env_of(service))
                started.append(child)
                env = env_of(service)
                if name == "migrate":
                    assert child.process.wait(120) == 0, child.log_tail(40)
                    continue
                ready = {
                    "ingest": f"http://127.0.0.1:{env['CLOSECALL_INGEST_PORT']}/readyz",
                    "api": f"http://127.0.0.1:{env['CLOSECALL_API_PORT']}/readyz",
                    "worker-1": f"http://127.0.0.1:{env['CLOSECALL_WORKER_METRICS_PORT']}/metrics",
                }[name]
                wait_until(functools.partial(http_ok, ready), child, 90)
            log = (tmp_path / "api.log").read_text()
            assert "refus" not in log.lower(), log
        finally:
            for child in reversed(started):
                child.stop()
            database.drop()
