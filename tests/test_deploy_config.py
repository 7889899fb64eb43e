"""deploy/ checked without a Docker engine: the compose file against the Compose Specification's
JSON schema, Prometheus' configuration and alert rules by Debian's `promtool` (the rules by their
own unit tests), the Grafana dashboard's queries parsed by promtool and naming only metrics the
services export.

tests/support/compose-spec.json is schema/compose-spec.json of github.com/compose-spec/compose-spec
at 170098ba07d9 (Apache-2.0)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from prometheus_client import REGISTRY

from core import metrics
from core.settings import Settings

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
SCHEMA = Path(__file__).resolve().parent / "support" / "compose-spec.json"
METRIC = re.compile(r"\bclosecall_\w+")
PROMETHEUS = DEPLOY / "prometheus"
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
