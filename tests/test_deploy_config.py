"""deploy/ checked without a Docker engine: the compose file against the Compose Specification's
JSON schema, Prometheus' configuration and alert rules by Debian's `promtool` (the rules by their
own unit tests), the Grafana dashboard's queries parsed by promtool and naming only metrics the
services export, Alertmanager's routes delivering to a mailbox and a webhook.

tests/support/compose-spec.json is schema/compose-spec.json of github.com/compose-spec/compose-spec
at 170098ba07d9 (Apache-2.0)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
import yaml
from prometheus_client import REGISTRY

from core import metrics
from core.settings import Settings
from deploy.local_stack import free_port, http_ok
from tests.support.receiver import Receiver
from tests.support.smtp import smtp_server
from tests.support.stack import eventually

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
SCHEMA = Path(__file__).resolve().parent / "support" / "compose-spec.json"
METRIC = re.compile(r"\bclosecall_\w+")
PROMETHEUS = DEPLOY / "prometheus"
ALERTMANAGER = DEPLOY / "alertmanager"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "closecall.json"


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("promtool") is None:
        pytest.fail("promtool is missing: `make test` installs Debian's prometheus")
    return subprocess.run(["promtool", *args], capture_output=True, text=True, check=False)


def exported_names() -> set[str]:
    """Every sample name the services can export (a histogram's _bucket/_sum/_count too)."""
    assert metrics.HTTP_REQUESTS  # the module that defines them all is loaded
    return {
        sample.name
        for family in REGISTRY.collect()
        for sample in family.samples
        if sample.name.startswith("closecall_")
    } | {
        f"{family.name}{suffix}"
        for family in REGISTRY.collect()
        for suffix in ("", "_total", "_bucket", "_sum", "_count")
        if family.name.startswith("closecall_")
    }


def dashboard_queries() -> list[str]:
    board = json.loads(DASHBOARD.read_text())
    return [
        target["expr"].replace("$__rate_interval", "5m")
        for panel in board["panels"]
        for target in panel.get("targets", [])
    ]


def test_the_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = list(jsonschema.Draft7Validator(schema).iter_errors(compose()))
    assert not errors, [f"{list(e.absolute_path)}: {e.message}" for e in errors]
    # and the schema is no rubber stamp: a misspelt key is refused
    broken = compose()
    broken["services"]["ingest"]["port"] = ["8000:8000"]
    assert any("port" in e.message for e in jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_prometheus_scrapes_every_service_on_the_port_it_serves_metrics_on() -> None:
    checked = promtool("check", "config", str(PROMETHEUS / "prometheus.yml"))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    targets = {
        target
        for job in config["scrape_configs"]
        for s in job["static_configs"]
        for target in s["targets"]
    }
    defaults = Settings(master_key="")
    services = compose()["services"]
    assert targets == {
        f"ingest:{defaults.ingest_port}",
        f"api:{defaults.api_port}",
        f"worker-1:{defaults.worker_metrics_port}",
        f"worker-1:{defaults.hooks_metrics_port}",
    }
    assert {target.split(":")[0] for target in targets} <= set(services)
    assert {"prometheus", "grafana"} <= set(services)
    mounted = services["prometheus"]["volumes"][0].split(":")[0]
    assert (DEPLOY / mounted).resolve() == PROMETHEUS.resolve()


def test_the_alert_rules_fire_when_they_should_and_only_then() -> None:
    tested = promtool("test", "rules", str(PROMETHEUS / "alerts.test.yml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    alerts = (PROMETHEUS / "alerts.yml").read_text()
    assert set(METRIC.findall(alerts)) <= exported_names()


def test_every_dashboard_query_parses_and_names_exported_metrics(tmp_path: Path) -> None:
    queries = dashboard_queries()
    assert len(queries) >= 15
    named = {name for query in queries for name in METRIC.findall(query)}
    assert named <= exported_names(), named - exported_names()
    # every metric family of the services is on the dashboard
    families = {f.name for f in REGISTRY.collect() if f.name.startswith("closecall_")}
    assert {re.sub(r"_(bucket|total)$", "", n) for n in named} >= families
    # promtool parses each query as a recording rule's expression
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [{"record": f"panel:q{i}", "expr": q} for i, q in enumerate(queries)],
            }
        ]
    }
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(rules))
    checked = promtool("check", "rules", str(path))
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_alertmanager_mails_and_calls_the_webhook_for_a_firing_alert(tmp_path: Path) -> None:
    """Debian's Alertmanager with deploy/alertmanager's routes and receivers; where they point
    (the SMTP server, the addresses, the webhook) replaced by local ones, grouping shortened."""
    shipped = ALERTMANAGER / "alertmanager.yml"
    checked = subprocess.run(
        ["amtool", "check-config", str(shipped)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    prometheus = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    assert prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "alertmanager:9093"
    ]
    assert "alertmanager" in compose()["services"]
    config = yaml.safe_load(shipped.read_text())
    receiver = Receiver().start()
    with smtp_server() as (smtp_url, inbox):
        config["global"] = {
            "smtp_smarthost": smtp_url.removeprefix("smtp://"),
            "smtp_from": "alerts@closecall.test",
            "smtp_require_tls": False,
        }
        config["route"].update(group_wait="1s", group_interval="1s")
        (receivers,) = config["receivers"]
        receivers["email_configs"][0]["to"] = "oncall@closecall.test"
        receivers["webhook_configs"][0]["url"] = receiver.url("/alerts")
        (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))
        port = free_port()
        process = subprocess.Popen(
            [
                "prometheus-alertmanager",
                f"--config.file={tmp_path / 'alertmanager.yml'}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",  # one instance, no gossip port
            ],
            stdout=subprocess.DEVNULL,
            stderr=(tmp_path / "alertmanager.log").open("wb"),
        )
        try:
            url = f"http://127.0.0.1:{port}/api/v2/alerts"
            eventually(lambda: http_ok(f"http://127.0.0.1:{port}/-/ready"), 30)
            alert = [
                {
                    "labels": {"alertname": "WorkerLagGrowing", "severity": "page"},
                    "annotations": {"summary": "consumer lag above 1,000 and growing"},
                }
            ]
            assert httpx.post(url, json=alert).status_code == 200
            eventually(
                lambda: inbox.to("oncall@closecall.test") and receiver.received("/alerts"), 30
            )
        finally:
            process.terminate()
            process.wait(10)
            receiver.stop()
    mail = inbox.to("oncall@closecall.test")[0]
    assert "WorkerLagGrowing" in str(mail["Subject"])
    hook = receiver.received("/alerts")[0].json()
    assert (
        hook["status"] == "firing"
        and hook["alerts"][0]["labels"]["alertname"] == "WorkerLagGrowing"
    )
