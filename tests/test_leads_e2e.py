"""Leads through the real stack, on chDB + SQLite and on ClickHouse server + PostgreSQL: a CSV as
spreadsheets write it, dry runs, duplicates, assignment across requests and restarts, the
phone's call list, calls linked to leads whichever came first, and the leads report."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.stack import Stack, eventually
from tests.test_pipeline_e2e import upload

NOW = datetime.now(UTC).replace(microsecond=0)
CSV = (
    "\ufeffFull Name;MOBILE;E-Mail;Company Name;Alt Phone;Remarks\r\n"
    "Asha Rao;98765 43210;asha@example.com;Rao Traders;;call after 5\r\n"  # 1 created
    "Ravi;+91-98111-22222;;;;\r\n"  # 2 created
    "Meena;09822233333;meena@example.in;;;\r\n"  # 3 created
    "Asha again;+91 98765 43210;;;;\r\n"  # 4 skipped: row 1's number
    "Old friend;0091 9800000000;;;;\r\n"  # 5 skipped: the lead made before
    "Bad email;9833344444;not-an-email;;;\r\n"  # 6 error: email
    "No number;;x@example.com;;;\r\n"  # 7 error: no number
    "Short;12;;;;\r\n"  # 8 error: no phone number
    "Paren;(+91) 9844455555;;;;\r\n"  # 9 created
    "Two numbers;9855566666;;;+919866677777;\r\n"  # 10 created with a secondary
    ";;;;;\r\n"  # 11 blank: ignored
    "Second of ten;9899988888;;;9866677777;\r\n"  # 12 skipped: row 10's secondary
)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def company(stack: Stack, name: str, plan: str = "basic_lead") -> str:
    return stack.signup(name, plan=plan)["api_key"]


def employee(stack: Stack, key: str, name: str, **fields: Any) -> str:
    made = stack.api.post("/v1/employees", json={"name": name}, headers=auth(key)).json()
    if fields:
        answer = stack.api.patch(f"/v1/employees/{made['id']}", json=fields, headers=auth(key))
        assert answer.status_code == 200, answer.text
    return str(made["id"])


def all_leads(stack: Stack, key: str, **params: Any) -> list[dict[str, Any]]:
    items, cursor = [], None
    while True:
        query = {**params, "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = stack.api.get("/v1/leads", params=query, headers=auth(key))
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


def import_csv(stack: Stack, key: str, text: str, **params: Any) -> Any:
    return stack.api.post(
        "/v1/leads/import",
        content=text.encode(),
        params=params,
        headers={**auth(key), "Content-Type": "text/csv"},
    )


def ok(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def add_numbers(stack: Stack, key: str, numbers: list[str], **body: Any) -> dict[str, Any]:
    return ok(stack.api.post("/v1/numbers", json={"numbers": numbers, **body}, headers=auth(key)))


def test_a_spreadsheet_import_counts_every_row(both_stacks: Stack) -> None:
    stack = both_stacks
    key = company(stack, "Importers")
    staff = [employee(stack, key, name) for name in ("A", "B", "C")]
    first = stack.api.post("/v1/leads", json={"primary_number": "+919800000000"}, headers=auth(key))
    assert first.status_code == 201, first.text

    dry = import_csv(stack, key, CSV, dry_run="true")
    assert dry.status_code == 200, dry.text
    expected = {"created": 5, "updated": 0, "skipped": 3}
    assert {k: dry.json()[k] for k in expected} == expected
    assert [(e["row"], [f["path"] for f in e["errors"]]) for e in dry.json()["errors"]] == [
        (6, ["email"]),
        (7, ["primary_number"]),
        (8, ["primary_number"]),
    ]
    assert len(all_leads(stack, key)) == 1  # the dry run wrote nothing

    real = import_csv(stack, key, CSV)
    assert {k: real.json()[k] for k in expected} == expected
    assert real.json()["errors"] == dry.json()["errors"]
    leads = all_leads(stack, key)
    assert len(leads) == 6
    by_name = {lead["first_name"]: lead for lead in leads}
    asha = by_name["Asha"]
    assert (asha["last_name"], asha["company"], asha["email"], asha["notes"]) == (
        "Rao",
        "Rao Traders",
        "asha@example.com",
        "call after 5",
    )
    assert asha["primary_number"] == "+919876543210" and asha["status"] == "new"
    assert by_name["Two"]["secondary_number"] == "+919866677777"
    counts = Counter(lead["employee_id"] for lead in leads)
    assert set(counts) == set(staff) and max(counts.values()) - min(counts.values()) <= 1

    # found by number in any format, and by text
    for written in ("098765 43210", "+91-98765-43210", "9876543210"):
        assert [lead["id"] for lead in all_leads(stack, key, number=written)] == [asha["id"]]
    assert [lead["id"] for lead in all_leads(stack, key, q="rao trad")] == [asha["id"]]

    # on_duplicate=update fills the given fields of the existing lead
    update = import_csv(
        stack,
        key,
        "first_name,phone,notes\nAsha,+919876543210,demo friday\n",
        on_duplicate="update",
    )
    assert {k: update.json()[k] for k in expected} == {"created": 0, "updated": 1, "skipped": 0}
    again = stack.api.get(f"/v1/leads/{asha['id']}", headers=auth(key)).json()
    assert (again["notes"], again["company"]) == ("demo friday", "Rao Traders")

    # the database refuses a second lead with a number, also through POST /v1/leads
    twice = stack.api.post(
        "/v1/leads", json={"primary_number": "0091 98765 43210"}, headers=auth(key)
    )
    assert (twice.status_code, twice.json()["error"]["code"]) == (409, "duplicate_lead")


def test_round_robin_continues_across_requests_and_a_restart(both_stacks: Stack) -> None:
    stack = both_stacks
    key = company(stack, "Robins")
    first, second = sorted(employee(stack, key, name) for name in ("P", "Q"))
    opted_out = employee(stack, key, "R", takes_leads=False)
    untracked = employee(stack, key, "S", tracking_enabled=False)

    def numbers(start: int, count: int) -> list[str]:
        return [f"+9197000{start + index:05d}" for index in range(count)]

    assert add_numbers(stack, key, numbers(0, 5))["created"] == 5
    assert add_numbers(stack, key, numbers(5, 3))["created"] == 3
    counts = Counter(lead["employee_id"] for lead in all_leads(stack, key))
    assert counts == {first: 4, second: 4}  # P Q P Q P | Q P Q

    restart_api(stack)
    add_numbers(stack, key, numbers(8, 1))  # continues after Q: P
    counts = Counter(lead["employee_id"] for lead in all_leads(stack, key))
    assert counts == {first: 5, second: 4}
    assert opted_out not in counts and untracked not in counts

    # least_loaded: P's leads that were called are no longer new, so P gets the next ones
    device = stack.enrolled_device(key, "Caller", "hw-robin")  # a colleague's phone
    stack.api.patch(
        f"/v1/employees/{device['employee_id']}", json={"takes_leads": False}, headers=auth(key)
    )
    called = [lead for lead in all_leads(stack, key) if lead["employee_id"] == first][:3]
    calls = [
        {
            "id": f"robin-{index}",
            "number": lead["primary_number"],
            "type": "outgoing",
            "started_at": (NOW - timedelta(minutes=5 + index)).isoformat(),
            "duration_s": 0,
        }
        for index, lead in enumerate(called)
    ]
    assert upload(stack, device["device_token"], calls).status_code == 202
    eventually(lambda: len(all_leads(stack, key, status="attempted")) == 3)
    added = add_numbers(stack, key, numbers(9, 2), assign="least_loaded")
    assert added["created"] == 2
    counts = Counter(lead["employee_id"] for lead in all_leads(stack, key))
    assert counts[first] == 7  # P had 2 new against Q's 4: both went to P
    # an explicit employee wins over the rules, even one who opted out
    add_numbers(stack, key, numbers(11, 1), employee_id=opted_out)
    assert [lead["employee_id"] for lead in all_leads(stack, key, employee_id=opted_out)] == [
        opted_out
    ]


def restart_api(stack: Stack) -> None:
    """Stop the report API's process (the worker with chDB) and start it again."""
    role = "worker" if stack.embedded_api else "api"
    process = stack.processes.pop(role)
    process.terminate()
    process.wait(20)
    stack.start_worker() if stack.embedded_api else stack.spawn("api", "api")
    stack.wait_ready(stack.api, role)


def phone(stack: Stack, token: str, cursor: str | None = None) -> dict[str, Any]:
    params = {"cursor": cursor} if cursor else {}
    return ok(stack.ingest.get("/v1/device/leads", params=params, headers=auth(token)))


def history(stack: Stack, key: str) -> dict[str, str | None]:
    items = stack.api.get("/v1/calls", headers=auth(key)).json()["items"]
    return {item["id"]: item["lead_id"] for item in items}


def test_the_phone_list_and_calls_linked_before_and_after(both_stacks: Stack) -> None:
    stack = both_stacks
    key = company(stack, "Dialers")
    asha = stack.enrolled_device(key, "Asha", "hw-asha")
    ravi = stack.enrolled_device(key, "Ravi", "hw-ravi")
    a_id, r_id = asha["employee_id"], ravi["employee_id"]

    def call(call_id: str, number: str, minutes_ago: int, duration_s: int) -> dict[str, Any]:
        return {
            "id": call_id,
            "number": number,
            "type": "outgoing",
            "started_at": (NOW - timedelta(minutes=minutes_ago)).isoformat(),
            "duration_s": duration_s,
        }

    # a call before its lead exists
    assert (
        upload(stack, asha["device_token"], [call("early", "09811100000", 50, 0)]).status_code
        == 202
    )
    eventually(lambda: len(history(stack, key)) == 1)
    lead_1 = stack.api.post(
        "/v1/leads",
        json={"first_name": "Early", "primary_number": "+91 98111 00000", "employee_id": a_id},
        headers=auth(key),
    ).json()
    lead_2 = stack.api.post(
        "/v1/leads",
        json={"first_name": "Late", "primary_number": "9822200000", "employee_id": a_id},
        headers=auth(key),
    ).json()
    assert (lead_1["status"], lead_1["calls"]) == ("attempted", 1)
    assert lead_2["status"] == "new"

    listed = phone(stack, asha["device_token"])
    assert [(i["id"], i["primary_number"], i["removed"]) for i in listed["items"]] == [
        (lead_1["id"], "+919811100000", False),
        (lead_2["id"], "+919822200000", False),
    ]
    own = stack.api.post(
        "/v1/leads", json={"primary_number": "9833300000", "employee_id": r_id}, headers=auth(key)
    ).json()
    ravi_first = phone(stack, ravi["device_token"])
    assert [i["id"] for i in ravi_first["items"]] == [own["id"]]

    # calls after the lead; then connected
    upload(stack, asha["device_token"], [call("late-1", "+919822200000", 20, 0)])
    eventually(lambda: get(stack, key, lead_2["id"])["status"] == "attempted")
    upload(stack, asha["device_token"], [call("late-2", "9822200000", 10, 125)])
    eventually(lambda: get(stack, key, lead_2["id"])["status"] == "connected")
    detail = get(stack, key, lead_2["id"])
    assert (detail["calls"], detail["connected_calls"]) == (2, 1)
    assert [c["duration_s"] for c in detail["recent_calls"]] == [125, 0]
    assert {c["lead_id"] for c in detail["recent_calls"]} == {lead_2["id"]}
    # its history: its status at its calls' own times (made minutes before this test's
    # requests), then made and given to Asha
    steps = [(c["kind"], c["at"]) for c in detail["history"]]
    started = {c["duration_s"]: c["started_at"] for c in detail["recent_calls"]}
    assert [kind for kind, _ in steps] == ["attempted", "connected", "created", "assigned"]
    assert [at for _, at in steps[:2]] == [started[0], started[125]]  # the company's zone
    early = [c["kind"] for c in get(stack, key, lead_1["id"])["history"]]
    assert early == ["attempted", "created", "assigned"]  # called before it was a lead
    assert Counter(history(stack, key).values()) == {lead_1["id"]: 1, lead_2["id"]: 2}

    # re-assigned to Ravi: Asha's phone drops it once, Ravi's gets it
    moved = stack.api.patch(
        f"/v1/leads/{lead_1['id']}", json={"employee_id": r_id}, headers=auth(key)
    )
    assert moved.status_code == 200 and moved.json()["employee_id"] == r_id
    after = phone(stack, asha["device_token"], listed["next_cursor"])
    assert after["items"] == [{"id": lead_1["id"], "removed": True} | none_fields()]
    assert phone(stack, asha["device_token"], after["next_cursor"])["items"] == []
    ravi_next = phone(stack, ravi["device_token"], ravi_first["next_cursor"])
    assert [i["id"] for i in ravi_next["items"]] == [lead_1["id"]]

    # deleted: its calls stay, without lead_id; the phone drops it
    assert stack.api.delete(f"/v1/leads/{lead_2['id']}", headers=auth(key)).status_code == 204
    assert sorted(filter(None, history(stack, key).values())) == [lead_1["id"]]
    gone = phone(stack, asha["device_token"], after["next_cursor"])
    assert [(i["id"], i["removed"]) for i in gone["items"]] == [(lead_2["id"], True)]
    assert stack.api.get(f"/v1/leads/{lead_2['id']}", headers=auth(key)).status_code == 404


def none_fields() -> dict[str, None]:
    return dict.fromkeys(
        ("first_name", "last_name", "company", "primary_number", "secondary_number", "notes")
    )


def get(stack: Stack, key: str, lead_id: str) -> dict[str, Any]:
    return ok(stack.api.get(f"/v1/leads/{lead_id}", headers=auth(key)))


def test_the_leads_report_matches_a_reference(both_stacks: Stack) -> None:
    stack = both_stacks
    key = company(stack, "Reporters")
    asha = stack.enrolled_device(key, "Asha", "hw-rep-a")
    ravi = stack.enrolled_device(key, "Ravi", "hw-rep-r")
    staff = {asha["employee_id"]: "Asha", ravi["employee_id"]: "Ravi"}
    numbers = [f"+9196000{index:05d}" for index in range(6)]
    owners = [asha["employee_id"]] * 4 + [ravi["employee_id"]] * 2
    for number, owner in zip(numbers, owners, strict=True):
        made = stack.api.post(
            "/v1/leads", json={"primary_number": number, "employee_id": owner}, headers=auth(key)
        )
        assert made.status_code == 201, made.text
    day = NOW - timedelta(days=3)
    # (number index, days before `day` (negative: in range), duration, type, device)
    plan = [
        (0, 5, 0, "outgoing", asha),  # before the range: attempted, not counted in range
        (0, -1, 60, "outgoing", asha),  # in range, connected
        (1, -1, 0, "outgoing", ravi),  # in range, by a colleague, attempted
        (2, -1, 0, "missed", asha),
        (4, -2, 30, "incoming", ravi),
        (5, 10, 45, "incoming", ravi),  # long before: connected
    ]
    calls: dict[str, list[dict[str, Any]]] = {}
    for index, (lead, days, duration, kind, device) in enumerate(plan):
        calls.setdefault(device["device_token"], []).append(
            {
                "id": f"rep-{index}",
                "number": numbers[lead],
                "type": kind,
                "started_at": (day - timedelta(days=days)).isoformat(),
                "duration_s": duration,
            }
        )
    for token, batch in calls.items():
        assert upload(stack, token, batch).status_code == 202
    eventually(lambda: len(stack.api.get("/v1/calls", headers=auth(key)).json()["items"]) == 6)
    start = day - timedelta(days=1)
    params = {"from": start.isoformat(), "to": NOW.isoformat()}

    expected = []
    for employee_id, name in sorted(staff.items(), key=lambda item: (item[1], item[0])):
        row = {"employee_id": employee_id, "name": name, "assigned": 0, "new": 0}
        row |= {"attempted": 0, "connected": 0, "calls": 0, "connected_calls": 0, "talk_time_s": 0}
        for lead, owner in enumerate(owners):
            if owner != employee_id:
                continue
            mine = [p for p in plan if p[0] == lead]
            connected = [p for p in mine if p[2] > 0 and p[3] in ("incoming", "outgoing")]
            row["assigned"] += 1
            row["connected" if connected else "attempted" if mine else "new"] += 1
            in_range = [p for p in mine if p[1] <= 0]
            row["calls"] += len(in_range)
            good = [p for p in in_range if p in connected]
            row["connected_calls"] += len(good)
            row["talk_time_s"] += sum(p[2] for p in good)
        expected.append(row)
    report = stack.api.get("/v1/reports/leads", params=params, headers=auth(key))
    assert report.status_code == 200, report.text
    assert report.json()["items"] == expected


LEAD_ROUTES = [
    ("POST", "/v1/leads", {"json": {"primary_number": "9876543210"}}),
    ("POST", "/v1/leads/import", {"json": []}),
    ("POST", "/v1/numbers", {"json": {"numbers": ["9876543210"]}}),
    ("GET", "/v1/leads", {}),
    ("GET", "/v1/leads/x", {}),
    ("PATCH", "/v1/leads/x", {"json": {}}),
    ("DELETE", "/v1/leads/x", {}),
    ("GET", "/v1/reports/leads", {}),
]


@pytest.mark.parametrize(("method", "path", "body"), LEAD_ROUTES)
def test_leads_need_the_lead_plan(
    module_stack: Stack, method: str, path: str, body: dict[str, Any]
) -> None:
    key = module_stack.signup(f"Basic{abs(hash(path + method)) % 10**6}")["api_key"]
    answer = module_stack.api.request(method, path, headers=auth(key), **body)
    assert (answer.status_code, answer.json()["error"]["code"]) == (402, "plan_required")


def test_the_phone_list_needs_the_lead_plan(module_stack: Stack) -> None:
    key = module_stack.signup("BasicPhone")["api_key"]
    token = module_stack.enrolled_device(key, "Asha", "hw-basic")["device_token"]
    answer = module_stack.ingest.get("/v1/device/leads", headers=auth(token))
    assert (answer.status_code, answer.json()["error"]["code"]) == (402, "plan_required")


def test_a_viewer_reads_leads_with_numbers_masked(module_stack: Stack) -> None:
    stack = module_stack
    key = company(stack, "Viewers")
    made = stack.api.post("/v1/leads", json={"primary_number": "9876543210"}, headers=auth(key))
    viewer = stack.api.post(
        "/v1/api-keys", json={"name": "v", "role": "viewer"}, headers=auth(key)
    ).json()["secret"]
    seen = stack.api.get(f"/v1/leads/{made.json()['id']}", headers=auth(viewer)).json()
    assert (made.json()["primary_number"], seen["primary_number"]) == (
        "+919876543210",
        "+91******3210",
    )
    assert all_leads(stack, viewer)[0]["primary_number"] == "+91******3210"
    refused = stack.api.post("/v1/numbers", json={"numbers": ["9811122233"]}, headers=auth(viewer))
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "forbidden")


def test_polling_triggers_answer_the_newest_with_unique_ids(both_stacks: Stack) -> None:
    stack = both_stacks
    key = company(stack, "Triggers")
    asha = stack.enrolled_device(key, "Asha", "hw-trig-a")
    ravi = employee(stack, key, "Ravi")
    made = [
        stack.api.post(
            "/v1/leads",
            json={"primary_number": f"+9195000000{n:02d}", "employee_id": asha["employee_id"]},
            headers=auth(key),
        ).json()
        for n in range(3)
    ]
    calls = [
        {
            "id": f"trig-{n}",
            "number": made[n]["primary_number"],
            "type": kind,
            "started_at": (NOW - timedelta(minutes=30 - n)).isoformat(),
            "duration_s": 0,
        }
        for n, kind in enumerate(["outgoing", "missed", "rejected"])
    ]
    assert upload(stack, asha["device_token"], calls).status_code == 202

    def trigger(path: str, **params: Any) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = ok(
            stack.api.get(f"/v1/triggers/{path}", params=params, headers=auth(key))
        )["items"]
        assert len({item["id"] for item in items}) == len(items)
        return items

    newest = eventually(lambda: len(trigger("calls")) == 3 and trigger("calls"))
    assert [item["lead_id"] for item in newest] == [lead["id"] for lead in reversed(made)]
    missed = trigger("calls", type=["missed", "rejected"], limit=1)
    assert [item["type"] for item in missed] == ["rejected"]
    assert [lead["id"] for lead in trigger("leads")] == [lead["id"] for lead in reversed(made)]

    before = trigger("lead-assignments")
    assert [item["lead_id"] for item in before] == [lead["id"] for lead in reversed(made)]
    moved = stack.api.patch(
        f"/v1/leads/{made[0]['id']}", json={"employee_id": ravi}, headers=auth(key)
    )
    assert moved.status_code == 200
    after = trigger("lead-assignments")
    assert (after[0]["lead_id"], after[0]["employee_id"]) == (made[0]["id"], ravi)
    assert after[0]["id"] not in {item["id"] for item in before}  # a new assignment, a new id
    assert after[0]["lead"]["status"] == "attempted"


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("application/json", b'{"primary_number": "9876543210"}', 422, "invalid_request"),
        ("application/json", b"[" + b"{}," * 10_000 + b"{}]", 413, "too_many_rows"),
        ("application/json", b"[NaN]", 422, "invalid_json"),
        ("text/csv", b"phone\n\xff\xfe98765\n", 422, "invalid_csv"),
        ("text/csv", b"name;email\nAsha;a@example.com\n", 422, "invalid_csv"),
        ("text/csv", b"phone\n" + b"9876543210\n" * 10_001, 413, "too_many_rows"),
        ("application/xml", b"<leads/>", 415, "unsupported_media_type"),
    ],
)
def test_an_unreadable_import_is_refused_whole_naming_why(
    module_stack: Stack, content_type: str, body: bytes, status: int, code: str
) -> None:
    key = company(module_stack, f"Refused{abs(hash(body)) % 10**6}")
    answer = module_stack.api.post(
        "/v1/leads/import", content=body, headers={**auth(key), "Content-Type": content_type}
    )
    assert (answer.status_code, answer.json()["error"]["code"]) == (status, code)
    assert all_leads(module_stack, key) == []
