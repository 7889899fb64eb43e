"""The upload path against a second Kafka implementation (Tansu): kafka-python produce with
acks=all, faust consumption with static membership, commit after ClickHouse has the rows."""

from __future__ import annotations

from tests.conftest import StackFactory
from tests.support.services import Broker
from tests.support.stack import eventually
from tests.test_faults import enrolled, wire_calls
from tests.test_pipeline_e2e import history, summary, upload


def test_upload_path_on_tansu(make_stack: StackFactory, tansu_broker: Broker) -> None:
    stack = make_stack(tansu_broker.bootstrap)
    key, token = enrolled(stack, "Tansu")
    calls = wire_calls(400, "t-")
    for start in range(0, 400, 200):
        answer = upload(stack, token, calls[start : start + 200])
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"accepted": 200, "rejected": []}
    assert upload(stack, token, calls[:50]).status_code == 202  # a re-sent batch
    eventually(lambda: summary(stack, key)["total_calls"] == 400, 120)
    assert len(history(stack, key)) == 400
