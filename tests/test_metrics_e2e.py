"""Debian's Prometheus scraping a running stack on the production path (ingest, worker, hooks
worker and report API each in a process of its own): PromQL through its HTTP API sees an upload's
accepted calls, the worker's lag growing while ClickHouse is down and falling to zero once it is
back, and the retries in between."""

from __future__ import annotations

import uuid
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import StackFactory
from tests.support.services import Broker, ClickHouseServer, PrometheusServer
from tests.support.stack import Stack, eventually
from tests.test_deploy_config import PROMETHEUS
from tests.test_faults import wire_calls
from tests.test_integrations_e2e import accepted, company
from tests.test_pipeline_e2e import aggregated_totals, company_id


def scraped(stack: Stack, tmp_path: Path) -> PrometheusServer:
    prometheus = PrometheusServer(
        tmp_path / "prometheus",
        {
            "closecall-ingest": f"127.0.0.1:{stack.ingest_port}",
            "closecall-api": f"127.0.0.1:{stack.api_port}",
            "closecall-worker": f"127.0.0.1:{stack.worker_metrics_port}",
            "closecall-hooks": f"127.0.0.1:{stack.hooks_metrics_port}",
        },
        [PROMETHEUS / "alerts.yml"],
    )
    prometheus.start()
    return prometheus


def test_prometheus_sees_accepted_calls_and_the_lag_falling_to_zero(
    make_stack: StackFactory, broker: Broker, tmp_path: Path
) -> None:
    (tmp_path / "clickhouse").mkdir()
    clickhouse = ClickHouseServer(tmp_path / "clickhouse")  # of its own: this test stops it
    clickhouse.start()
    stack = make_stack(
        broker.bootstrap, clickhouse.url("metrics"), env={"CLOSECALL_LAG_INTERVAL_S": "0.5"}
    )
    prometheus = scraped(stack, tmp_path)
    raw = stack.env["CLOSECALL_TOPIC_CALLS_RAW"]
    lag = f'sum(closecall_consumer_lag_records{{topic="{raw}"}})'
    try:
        eventually(lambda: prometheus.value('sum(up{job=~"closecall-.*"})') == 4, 60)
        key, token = company(stack, "Metrics")
        accepted(stack, token, wire_calls(40, "scraped"))
        eventually(lambda: prometheus.value("sum(closecall_calls_accepted_total)") == 40, 30)
        rows = 'sum(closecall_clickhouse_rows_total{table="calls"})'
        eventually(lambda: prometheus.value(rows) == 40, 30)
        eventually(lambda: prometheus.value(lag) == 0, 30)
        assert prometheus.value('sum(closecall_http_requests_total{route="/v1/calls"})') == 1

        clickhouse.stop()  # the worker keeps the calls in Kafka and retries
        for upload in range(5):  # five records of five calls
            accepted(stack, token, wire_calls(5, f"while-down-{upload}"))
        eventually(lambda: prometheus.value(lag) == 5, 30)
        retries = 'sum(closecall_worker_retries_total{step="clickhouse insert"})'
        eventually(lambda: (prometheus.value(retries) or 0) >= 1, 30)

        clickhouse.start()
        eventually(lambda: prometheus.value(rows) == 65, 90)
        eventually(lambda: prometheus.value(lag) == 0, 30)
        assert prometheus.value("sum(closecall_calls_accepted_total)") == 65
        # the aggregates were kept across the outage: every call once
        assert aggregated_totals(stack, company_id(stack, key))[0] == 65
        assert prometheus.value(f"max_over_time({lag}[5m:1s])") == 5
        inserted = 'sum(closecall_clickhouse_insert_duration_seconds_count{table="calls"})'
        assert (prometheus.value(inserted) or 0) >= 2
        # the shipped alert rules load on this server and evaluate without errors
        rules = prometheus.rules()
        assert {rule["name"] for rule in rules} >= {"ConsumerLagGrowing", "Ingest5xx"}
        assert all(rule["health"] == "ok" for rule in rules), rules
    finally:
        prometheus.stop()
        clickhouse.stop()


def test_in_local_mode_the_report_api_serves_the_workers_metrics_and_no_label_names_a_tenant(
    chdb_stack: Stack,
) -> None:
    stack = chdb_stack
    key = stack.signup(f"Local{uuid.uuid4().hex[:6]}")["api_key"]
    device = stack.enrolled_device(key, "Asha", "hw-metrics")
    accepted(stack, device["device_token"], wire_calls(12, "local"))

    def rows_stored() -> float:
        text = stack.api.get("/metrics").text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            if family.name == "closecall_clickhouse_rows"
            for sample in family.samples
            if sample.name.endswith("_total") and sample.labels["table"] == "calls"
        )

    eventually(lambda: rows_stored() == 12, 30)
    lagging = 'closecall_consumer_lag_records{group="'  # the worker's, measured every 5 s
    eventually(lambda: lagging in stack.api.get("/metrics").text, 30)
    api_page, ingest_page = stack.api.get("/metrics").text, stack.ingest.get("/metrics").text
    assert "closecall_calls_accepted_total 12.0" in ingest_page
    for tenant in (device["company_id"], device["device_id"], device["employee_id"], "hw-metrics"):
        assert tenant not in api_page and tenant not in ingest_page
