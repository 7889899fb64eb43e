"""The findings of the security review of the running stack (issue "hardening"), each through the
real services: failed sign-ins cannot exhaust the control plane, bodies are limited while read,
races cannot pass a limit, small hostile inputs are 4xx, password resets tell nothing."""

from __future__ import annotations

import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psutil
import pyotp
import pytest

from core.health import BROKER_DEADLINE_S, broker_problem
from deploy.local_stack import free_port
from tests.conftest import shared_stack
from tests.support.services import Broker
from tests.support.stack import Stack
from tests.test_faults import wire_calls
from tests.test_pipeline_e2e import upload

PASSWORD = "correct horse battery staple"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def stack(broker: Broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack whose SMTP server is down (nothing listens on its port)."""
    env = {"CLOSECALL_SMTP_URL": f"smtp://127.0.0.1:{free_port()}"}
    yield from shared_stack(broker, tmp_path_factory, env)


def login(stack: Stack, email: str, password: str = PASSWORD, **extra: Any) -> httpx.Response:
    return stack.api.post("/v1/auth/login", json={"email": email, "password": password, **extra})


def parallel(count: int, call: Any) -> list[httpx.Response]:
    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(lambda _i: call(), range(count)))


def owner_token(stack: Stack, company: str) -> dict[str, str]:
    stack.signup(company)
    answer = login(stack, f"owner@{company.lower()}.example")
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def test_failed_sign_ins_never_take_other_companies_down(stack: Stack) -> None:
    other = owner_token(stack, "Bystander")
    timings: list[float] = []

    def me() -> int:
        started = time.monotonic()
        status = stack.api.get("/v1/me", headers=other).status_code
        timings.append(time.monotonic() - started)
        return status

    with ThreadPoolExecutor(60) as pool:
        attempts = [
            pool.submit(login, stack, f"nobody{i}@flood.example", "no such password")
            for i in range(50)
        ]
        mine = [pool.submit(me) for _ in range(5)]
        statuses = [f.result().status_code for f in attempts]
        assert [f.result() for f in mine] == [200] * 5
    assert set(statuses) <= {401, 503}, statuses
    assert max(timings) < 1.0, timings
    busy = [f.result() for f in attempts if f.result().status_code == 503]
    assert all(a.headers["retry-after"] == "1" for a in busy)


def test_parallel_wrong_passwords_stop_at_the_limit(stack: Stack) -> None:
    stack.signup("Racer")
    email = "owner@racer.example"
    answers = parallel(12, lambda: login(stack, email, "wrong password, many times"))
    statuses = [a.status_code for a in answers]
    assert 500 not in statuses
    assert statuses.count(401) <= 5, statuses
    # checked or not, five failures at most were recorded: the right password is now refused
    for _ in range(20):  # busy (503) answers are not failures: fill up to five
        if statuses.count(401) == 5:
            break
        statuses.append(login(stack, email, "wrong password, again").status_code)
    assert login(stack, email).status_code == 429


def away_from_a_step_change(margin_s: float = 6.0) -> None:
    """Not within `margin_s` of the end of a 30 s TOTP step, so a code taken now is still the
    server's current or previous one when a loaded machine gets to it."""
    while 30 - time.time() % 30 < margin_s:
        time.sleep(0.5)


def totp_owner(stack: Stack, company: str) -> tuple[str, pyotp.TOTP]:
    """A company whose owner has TOTP on (confirmed with the previous step's code, so the
    current one is unused); the owner's email and authenticator."""
    auth = owner_token(stack, company)
    totp = pyotp.TOTP(stack.api.post("/v1/auth/totp", headers=auth).json()["secret"])
    away_from_a_step_change()
    earlier = totp.at(time.time() - 30)
    confirmed = stack.api.post("/v1/auth/totp/confirm", json={"otp": earlier}, headers=auth)
    assert confirmed.status_code == 204
    return f"owner@{company.lower()}.example", totp


def test_one_totp_code_signs_in_once_in_parallel(stack: Stack) -> None:
    email, totp = totp_owner(stack, "Totprace")
    away_from_a_step_change()
    code = totp.now()
    answers = parallel(10, lambda: login(stack, email, otp=code))
    statuses = sorted(a.status_code for a in answers)
    # one gets past the gate at least; of those, one uses the code, the others are refused
    # (the replays count as failures, so late ones may meet the lockout: 429)
    assert statuses.count(200) == 1 and set(statuses) <= {200, 401, 429, 503}, statuses


def test_a_code_that_is_not_ascii_digits_is_a_401(stack: Stack) -> None:
    email, _totp = totp_owner(stack, "Otpchars")
    for otp in ("é", "\uff11\uff12\uff13\uff14\uff15\uff16", "\u202e12345"):
        answer = login(stack, email, otp=otp)
        assert answer.status_code == 401, (otp, answer.text)
        assert answer.json()["error"]["code"] == "otp_required"


def test_console_headers_that_are_not_ascii_or_urls(stack: Stack) -> None:
    stack.signup("Csrf")
    session = stack.api.post(
        "/v1/auth/session", json={"email": "owner@csrf.example", "password": PASSWORD}
    )
    cookie = f"cc_session={session.cookies['cc_session']}".encode()
    with httpx.Client(base_url=f"http://127.0.0.1:{stack.api_port}") as client:
        for headers in (
            [(b"X-CSRF-Token", "é".encode())],
            [(b"X-CSRF-Token", b"x"), (b"Origin", b"http://[")],
            [(b"Origin", b"http://[::1")],
        ):
            answer = client.post("/v1/auth/logout", headers=[(b"Cookie", cookie), *headers])
            assert answer.status_code == 403, (headers, answer.text)
        # the connection they came on still works after them
        assert client.get("/healthz").status_code == 200


def chunked_upload(port: int, path: str, total: int) -> tuple[int, bytes]:
    """POST `total` bytes as a chunked body, stopping when the server answers; its status and
    body."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        chunk = b"[" + b" " * (64 * 1024 - 1)
        sent = 0
        sock.settimeout(0)
        answer = b""
        while sent < total:
            try:
                answer += sock.recv(65536)
                break  # the server answered: stop sending
            except BlockingIOError:
                pass
            try:
                sock.settimeout(5)
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                sock.settimeout(0)
            except OSError:
                break  # closed after answering
            sent += len(chunk)
            chunk = b" " * len(chunk)
        sock.settimeout(10)
        answer = read_response(sock, answer)
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def read_response(sock: socket.socket, answer: bytes) -> bytes:
    """The rest of an answer whose first bytes are `answer`: its head and Content-Length."""

    def complete() -> bool:
        head, found, body = answer.partition(b"\r\n\r\n")
        length = re.search(rb"(?im)^content-length: *(\d+)", head)
        return bool(found) and len(body) >= int(length.group(1) if length else 0)

    while not complete():
        more = sock.recv(65536)
        if not more:
            break
        answer += more
    return answer


def rss(process: Any) -> int:
    return int(psutil.Process(process.pid).memory_info().rss)


@pytest.mark.parametrize(
    ("service", "path"),
    [
        ("api", "/v1/signup"),
        ("api", "/v1/auth/login"),
        ("api", "/v1/auth/session"),
        ("api", "/v1/auth/password-reset"),
        ("api", "/v1/auth/password-reset/confirm"),
        ("api", "/v1/auth/accept-invite"),
        ("ingest", "/v1/devices/enroll"),
    ],
)
def test_large_bodies_are_refused_while_read(stack: Stack, service: str, path: str) -> None:
    port = stack.api_port if service == "api" else stack.ingest_port
    process = stack.processes["worker" if service == "api" and stack.embedded_api else service]
    before = rss(process)
    status, body = chunked_upload(port, path, 50 * MIB)
    assert status == 413, body
    assert b"payload_too_large" in body and b"65536" in body
    assert rss(process) - before < 20 * MIB
    declared = httpx.post(
        f"http://127.0.0.1:{port}{path}",
        content=b" " * (70 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "payload_too_large"


def test_password_reset_tells_nothing_and_is_limited(stack: Stack) -> None:
    stack.signup("Quiet")
    known = stack.api.post("/v1/auth/password-reset", json={"email": "owner@quiet.example"})
    unknown = stack.api.post("/v1/auth/password-reset", json={"email": "nobody@quiet.example"})
    # the SMTP server is down: both answers are still the same
    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert known.status_code == 202
    statuses = [
        stack.api.post("/v1/auth/password-reset", json={"email": "owner@quiet.example"})
        for _ in range(3)
    ]
    assert statuses[-1].status_code == 429 and int(statuses[-1].headers["retry-after"]) > 0


def test_a_revoked_device_is_refused_within_a_second(stack: Stack) -> None:
    key = stack.signup("Revoker")["api_key"]
    device = stack.enrolled_device(key, "Asha", "hw-revoked")
    token = device["device_token"]
    assert upload(stack, token, wire_calls(1, "before-")).status_code == 202  # now cached
    revoked = stack.api.delete(
        f"/v1/devices/{device['device_id']}", headers={"Authorization": f"Bearer {key}"}
    )
    assert revoked.status_code == 204
    started = time.monotonic()
    while upload(stack, token, wire_calls(1, "after-")).status_code == 202:
        assert time.monotonic() - started < 2.0, "still accepted 2 s after its revocation"
        time.sleep(0.1)
    assert upload(stack, token, wire_calls(1, "later-")).status_code == 401


def test_ingest_types_are_strict_per_record(stack: Stack) -> None:
    key = stack.signup("Strict")["api_key"]
    token = stack.enrolled_device(key, "Asha", "hw-strict")["device_token"]
    good: dict[str, Any] = {"id": "ok", "number": "+91 98765-43210", "type": "3"}
    good |= {"duration_s": 0, "started_at": "2026-03-02T10:00:00+05:30"}
    bad: dict[str, list[dict[str, Any]]] = {
        "duration_s": [{"duration_s": "10"}, {"duration_s": True}, {"duration_s": 10.5}],
        "type": [{"type": "\u0663"}, {"type": True}],
        "number": [
            {"number": "98765\x0043210"},
            {"number": "\u202e9876543210"},
            {"number": "1-800-FLOWERS"},
            {"number": "\u0669\u0668\u0667"},
        ],
    }
    calls = [good] + [
        {**good, "id": f"{field}-{n}", **change}
        for field, changes in bad.items()
        for n, change in enumerate(changes)
    ]
    answer = upload(stack, token, calls)
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["accepted"] == 1
    rejected = {r["id"]: [e["path"] for e in r["errors"]] for r in body["rejected"]}
    assert rejected == {str(c["id"]): [str(c["id"]).split("-")[0]] for c in calls[1:]}


@pytest.mark.parametrize("value", ["1", "0", "yes", "on", "TRUE"])
def test_boolean_query_values_are_true_or_false(stack: Stack, value: str) -> None:
    key = {"Authorization": f"Bearer {stack.signup(f'Flags{value}')['api_key']}"}
    for path, name in (("/v1/calls", "reveal"), ("/v1/devices", "revoked")):
        answer = stack.api.get(path, params={name: value}, headers=key)
        assert answer.status_code == 422, answer.text
        assert [f["path"] for f in answer.json()["error"]["fields"]] == [name]
    assert stack.api.get("/v1/calls", params={"reveal": "true"}, headers=key).status_code == 200
    employee = stack.api.post("/v1/employees", json={"name": "A"}, headers=key).json()
    answer = stack.api.patch(
        f"/v1/employees/{employee['id']}", json={"tracking_enabled": 1}, headers=key
    )
    assert answer.status_code == 422
    assert [f["path"] for f in answer.json()["error"]["fields"]] == ["tracking_enabled"]


@pytest.mark.parametrize(
    ("service", "path"),
    [("api", "/v1/auth/login"), ("api", "/v1/signup"), ("ingest", "/v1/devices/enroll")],
)
@pytest.mark.parametrize("raw", [b'{"email": ', b"\xff\xfe{}", b"[1, 2"])
def test_malformed_json_is_one_shape_on_both_services(
    stack: Stack, service: str, path: str, raw: bytes
) -> None:
    client = stack.api if service == "api" else stack.ingest
    answer = client.post(path, content=raw, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["code"] == "invalid_json"


def test_readiness_asks_the_broker_with_a_deadline(tmp_path: Path) -> None:
    """A broker that accepts connections but answers nothing (SIGSTOP) is not ready, and the
    check says so within its 2 s deadline."""
    frozen = Broker("noida", tmp_path)
    frozen.start()
    assert frozen.process is not None
    pid = frozen.process.pid
    try:
        assert broker_problem(frozen.bootstrap) is None
        os.kill(pid, signal.SIGSTOP)
        started = time.monotonic()
        problem = broker_problem(frozen.bootstrap)
        assert problem is not None and "timed out" in problem
        assert time.monotonic() - started < BROKER_DEADLINE_S + 1
        os.kill(pid, signal.SIGCONT)
        assert broker_problem(frozen.bootstrap) is None
    finally:
        os.kill(pid, signal.SIGCONT)
        frozen.stop()
