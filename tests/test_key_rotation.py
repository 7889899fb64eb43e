"""Master key rotation through the real stack: the services restart holding the new key and
the previous one, `closecall rotate-master-key` re-wraps every data key while phones keep
uploading, and afterwards the stack starts with the new key alone: nothing lost, every number
still revealed."""

from __future__ import annotations

import base64
import os
import threading
from typing import Any

import pytest
import sqlalchemy as sa

from core.controlplane import audit_log, companies, make_engine
from core.number_crypto import DecryptionError, unwrap_company_keys
from tests.conftest import StackFactory
from tests.support.services import Broker
from tests.support.stack import eventually
from tests.test_pipeline_e2e import history, upload


def a_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def call(call_id: str, minute: int) -> dict[str, Any]:
    return {
        "id": call_id,
        "number": f"98765{minute:05d}",
        "type": "outgoing",
        "duration_s": 10,
        "started_at": f"2026-03-02T{10 + minute // 60:02d}:{minute % 60:02d}:00+05:30",
    }


def test_rotation_while_uploads_run(make_stack: StackFactory, broker: Broker) -> None:
    old, new = a_key(), a_key()
    stack = make_stack(broker.bootstrap, env={"CLOSECALL_MASTER_KEY": old})
    made = stack.signup(f"Rotate{stack.name}")
    key = made["api_key"]
    token = stack.enrolled_device(key, "Asha", "hw-rotate")["device_token"]
    assert upload(stack, token, [call(f"a-{i}", i) for i in range(20)]).status_code == 202
    eventually(lambda: len(history(stack, key)) == 20)

    stack.restart({"CLOSECALL_MASTER_KEY": new, "CLOSECALL_MASTER_KEY_PREVIOUS": old})
    accepted: list[str] = []
    stop = threading.Event()

    def phone() -> None:
        minute = 20
        while not stop.is_set() and minute < 600:
            if upload(stack, token, [call(f"b-{minute}", minute)]).status_code == 202:
                accepted.append(f"b-{minute}")
            minute += 1

    uploading = threading.Thread(target=phone)
    uploading.start()
    try:
        eventually(lambda: len(accepted) >= 5)
        printed = stack.output("rotate-master-key")
        eventually(lambda: len(accepted) >= 15)
    finally:
        stop.set()
        uploading.join()
    assert printed.startswith("1 companies re-wrapped")

    stack.restart({"CLOSECALL_MASTER_KEY": new, "CLOSECALL_MASTER_KEY_PREVIOUS": None})
    eventually(lambda: len(history(stack, key)) == 20 + len(accepted))
    revealed = history(stack, key, reveal="true")
    assert len(revealed) == 20 + len(accepted)
    assert all(item["number"].startswith("+9198765") for item in revealed)
    engine = make_engine(stack.env["CLOSECALL_DATABASE_URL"])
    with engine.connect() as conn:
        wrapped = conn.execute(
            sa.select(companies.c.wrapped_data_key).where(companies.c.id == made["company_id"])
        ).scalar_one()
        actions = conn.execute(
            sa.select(audit_log.c.action).where(audit_log.c.company_id == made["company_id"])
        ).scalars()
        assert "master_key.rotated" in list(actions)
    engine.dispose()
    with pytest.raises(DecryptionError):  # the old key is no longer needed, nor enough
        unwrap_company_keys(base64.b64decode(old), made["company_id"], wrapped)
    # a second run finds nothing left to re-wrap
    stack.env["CLOSECALL_MASTER_KEY_PREVIOUS"] = old
    assert stack.output("rotate-master-key").startswith("0 companies re-wrapped")
