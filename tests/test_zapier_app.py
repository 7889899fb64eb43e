"""The Zapier app (zapier/) inside `make test`: the platform CLI's offline validation, and the
app's own tests (`zapier.createAppTester` under `node --test`, Node 22 from npm) against a
real stack started here: auth, a REST hook's subscribe/perform/unsubscribe with a real
delivery, every trigger's subscription and samples, the creates and the search."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import StackFactory
from tests.support.services import Broker
from tests.test_integrations_e2e import HOOK_ENV

ZAPIER = Path(__file__).resolve().parents[1] / "zapier"
NODE_BIN = ZAPIER / "node_modules" / ".bin"


def npm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["npm", *args],
        cwd=ZAPIER,
        env={**os.environ, "PATH": f"{NODE_BIN}{os.pathsep}{os.environ['PATH']}", **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="module")
def installed() -> None:
    if not (NODE_BIN / "zapier-platform").exists():
        pytest.fail(
            "the Zapier app is not installed: run `make test` (it runs `npm ci` in zapier/)"
        )


def test_the_platform_validates_the_app(installed: None) -> None:
    result = npm("run", "validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "structurally sound" in result.stdout


def test_the_app_against_a_real_stack(
    installed: None, make_stack: StackFactory, broker: Broker
) -> None:
    stack = make_stack(broker.bootstrap, env=HOOK_ENV)
    key = stack.signup("Zapped", plan="basic_lead")["api_key"]
    token = stack.enrolled_device(key, "Asha", "hw-zap")["device_token"]
    result = npm(
        "test",
        env={
            "CLOSECALL_API_URL": str(stack.api.base_url).rstrip("/"),
            "CLOSECALL_INGEST_URL": str(stack.ingest.base_url).rstrip("/"),
            "CLOSECALL_API_KEY": key,
            "CLOSECALL_DEVICE_TOKEN": token,
        },
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "# fail 0" in result.stdout and "# pass 10" in result.stdout, result.stdout
