"""Every Prometheus metric of the services, defined once (prometheus-client, its default registry),
and the two ways they are served: `/metrics` on an HTTP app, a port of its own for a worker.

Labels are of low cardinality only: a route template, a status, a topic, a table, an outcome;
never a company, employee, device or number. Names follow Prometheus' conventions (`_total` for
counters, base units as suffixes)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)
METRICS_PATH = "/metrics"
# the OpenAPI description of a `/metrics` route
METRICS_RESPONSE: dict[int | str, dict[str, object]] = {
    200: {
        "description": "Prometheus text exposition format 0.0.4",
        "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}},
    }
}
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"  # a path no route serves (404s): never the path itself
# seconds: from a cached device token's upload to a ClickHouse mutation
FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SLOW = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0)

HTTP_REQUESTS = Counter(
    "closecall_http_requests_total",
    "HTTP requests answered, by service, route template, method and status.",
    ["service", "route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "closecall_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer.",
    ["service", "route", "method"],
    buckets=FAST,
)
CALLS_ACCEPTED = Counter(
    "closecall_calls_accepted_total", "Calls acknowledged by Kafka and answered 202 (ingest)."
)
CALLS_REJECTED = Counter(
    "closecall_calls_rejected_total",
    "Calls refused one by one inside an accepted upload (a bad record).",
)
KAFKA_PRODUCE_LATENCY = Histogram(
    "closecall_kafka_produce_duration_seconds",
    "Time until the broker acknowledged an upload's records (acks=all).",
    ["topic"],
    buckets=FAST,
)
KAFKA_PRODUCE_FAILURES = Counter(
    "closecall_kafka_produce_failures_total",
    "Uploads refused with 503 because the broker did not acknowledge them.",
    ["topic"],
)
CONSUMER_LAG = Gauge(
    "closecall_consumer_lag_records",
    "Records in a partition after the consumer group's committed offset (this worker's partitions).",
    ["group", "topic", "partition"],
)
BATCH_RECORDS = Histogram(
    "closecall_worker_batch_records",
    "Records per batch the worker took from a topic.",
    ["table"],
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000),
)
CLICKHOUSE_INSERT_LATENCY = Histogram(
    "closecall_clickhouse_insert_duration_seconds",
    "Time of one successful ClickHouse insert of a batch.",
    ["table"],
    buckets=FAST,
)
CLICKHOUSE_ROWS = Counter(
    "closecall_clickhouse_rows_total", "Rows the worker inserted into ClickHouse.", ["table"]
)
RETRIES = Counter(
    "closecall_worker_retries_total",
    "Failed attempts of a worker step that is retried until it succeeds (an outage).",
    ["step"],
)
DEAD_LETTERS = Counter(
    "closecall_dead_letters_total",
    "Records set aside on the dead-letter topic, by the topic they came from.",
    ["topic"],
)
WEBHOOK_DELIVERIES = Counter(
    "closecall_webhook_deliveries_total",
    "Webhook delivery attempts by outcome: delivered (2xx), refused (another status), "
    "unreachable (no answer).",
    ["outcome"],
)
WEBHOOK_LATENCY = Histogram(
    "closecall_webhook_delivery_duration_seconds",
    "Time of one webhook delivery attempt.",
    ["outcome"],
    buckets=SLOW,
)
FCM_PUSHES = Counter(
    "closecall_fcm_pushes_total",
    "FCM data messages by action (sync, leads) and outcome.",
    ["action", "outcome"],
)
PRIVACY_JOBS = Counter(
    "closecall_privacy_jobs_total",
    "Privacy and lifecycle jobs by kind and outcome (done, failed).",
    ["job", "outcome"],
)
PRIVACY_JOB_LATENCY = Histogram(
    "closecall_privacy_job_duration_seconds",
    "Time of one successful privacy or lifecycle job.",
    ["job"],
    buckets=SLOW,
)
DEVICES = Gauge(
    "closecall_devices",
    "Enrolled devices with tracking on, by state (current, stale), over every company.",
    ["state"],
)


@contextmanager
def privacy_job(job: str) -> Iterator[None]:
    """Counts one privacy or lifecycle job as done or failed (and times it when done)."""
    started = time.perf_counter()
    try:
        yield
    except Exception:
        PRIVACY_JOBS.labels(job, "failed").inc()
        raise
    PRIVACY_JOBS.labels(job, "done").inc()
    PRIVACY_JOB_LATENCY.labels(job).observe(time.perf_counter() - started)


def metrics_page() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


class RequestMetrics:
    """Counts and times every HTTP request by its route template (a plain ASGI middleware, no
    task per request: ingest's hot path). The template is read after routing put it in scope."""

    def __init__(self, app: ASGIApp, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what an app that raised before answering amounts to

        async def send_counting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_counting)
        finally:
            route = getattr(scope.get("route"), "path", UNMATCHED)
            method = scope["method"] if scope["method"] in METHODS else "other"
            HTTP_LATENCY.labels(self.service, route, method).observe(time.perf_counter() - started)
            HTTP_REQUESTS.labels(self.service, route, method, str(status)).inc()


def serve_port(host: str, port: int, variable: str) -> bool:
    """The metrics of this process on a port of its own (a thread of prometheus-client); not
    served, with an error naming the variable, when the port is taken: a worker keeps working."""
    if not port:
        return False
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        log.error(
            "metrics not served on %s:%d (%s): set %s to a free port", host, port, exc, variable
        )
        return False
    log.info("metrics on http://%s:%d%s", host, port, METRICS_PATH)
    return True
