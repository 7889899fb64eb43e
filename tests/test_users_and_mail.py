"""Users through the real stack and a real SMTP server: an invitation and a password reset
arrive by email with a single-use token; a reset revokes every session; the last owner stays."""

from __future__ import annotations

import re
from email.message import EmailMessage, Message

from tests.support.smtp import Inbox
from tests.support.stack import Stack, eventually
from tests.test_sign_in import PASSWORD, bearer, login

NEW_PASSWORD = "a much longer passphrase 7"


def token_in(message: Message) -> str:
    assert isinstance(message, EmailMessage)  # parsed with the modern policy
    found = re.search(r"token=(\S+)", message.get_content())
    assert found, message.get_content()
    return found.group(1)


def test_invitation_reset_and_the_last_owner(mailed: tuple[Stack, Inbox]) -> None:
    stack, inbox = mailed
    key = stack.signup("Mailers")["api_key"]
    owner = bearer(login(stack, "owner@mailers.example").json()["access_token"])
    assert (
        stack.api.post(
            "/v1/users", json={"email": "x@mailers.example", "role": "viewer"}, headers=bearer(key)
        ).json()["error"]["code"]
        == "forbidden"
    )  # an API key is never owner

    invited = stack.api.post(
        "/v1/users", json={"email": "ravi@mailers.example", "role": "manager"}, headers=owner
    )
    assert invited.status_code == 201 and invited.json()["status"] == "invited"
    invitation = eventually(lambda: inbox.to("ravi@mailers.example"), 10)[0]
    token = token_in(invitation)
    accept = {"token": token, "password": NEW_PASSWORD}
    assert stack.api.post("/v1/auth/accept-invite", json=accept).status_code == 204
    again = stack.api.post("/v1/auth/accept-invite", json=accept)
    assert again.status_code == 422 and again.json()["error"]["fields"][0]["path"] == "token"

    ravi = bearer(login(stack, "ravi@mailers.example", NEW_PASSWORD).json()["access_token"])
    assert stack.api.get("/v1/me", headers=ravi).json()["user"]["role"] == "manager"
    denied = stack.api.get("/v1/users", headers=ravi)
    assert denied.status_code == 403 and "owner" in denied.json()["error"]["message"]

    for address in ("ravi@mailers.example", "nobody@mailers.example", "ravi@mailers.example"):
        answer = stack.api.post("/v1/auth/password-reset", json={"email": address})
        assert answer.status_code == 202

    def resets() -> list[Message] | None:
        mails = inbox.to("ravi@mailers.example")  # the invitation, then the two resets in order
        return mails[1:] if len(mails) == 3 else None

    older, newer = eventually(resets, 10)
    assert inbox.to("nobody@mailers.example") == []
    assert isinstance(newer, EmailMessage)
    assert "POST /v1/auth/password-reset/confirm" in newer.get_content()  # a route that exists
    confirm = {"token": token_in(newer), "password": PASSWORD + " again"}
    assert stack.api.post("/v1/auth/password-reset/confirm", json=confirm).status_code == 204
    # the newer link used, the older one is dead too
    stale = {"token": token_in(older), "password": "yet another passphrase 9"}
    refused = stack.api.post("/v1/auth/password-reset/confirm", json=stale)
    assert refused.status_code == 422 and refused.json()["error"]["fields"][0]["path"] == "token"
    assert stack.api.get("/v1/me", headers=ravi).status_code == 401  # every session revoked
    assert login(stack, "ravi@mailers.example", NEW_PASSWORD).status_code == 401
    assert login(stack, "ravi@mailers.example", PASSWORD + " again").status_code == 200

    users = stack.api.get("/v1/users", headers=owner).json()["items"]
    owner_id = next(u["id"] for u in users if u["role"] == "owner")
    for change in ({"role": "admin"}, {"disabled": True}):
        refused = stack.api.patch(f"/v1/users/{owner_id}", json=change, headers=owner)
        assert refused.status_code == 409 and refused.json()["error"]["code"] == "last_owner"
    assert stack.api.delete(f"/v1/users/{owner_id}", headers=owner).status_code == 409
    ravi_id = next(u["id"] for u in users if u["email"] == "ravi@mailers.example")
    assert stack.api.patch(f"/v1/users/{ravi_id}", json={"role": "owner"}, headers=owner).is_success
    audited = stack.api.get("/v1/audit", headers=owner).json()["items"]
    assert {"user.invited", "user.changed"} <= {e["action"] for e in audited}
    demoted = stack.api.patch(f"/v1/users/{owner_id}", json={"role": "viewer"}, headers=owner)
    assert demoted.status_code == 200  # another owner exists now
    ravi_owner = bearer(
        login(stack, "ravi@mailers.example", PASSWORD + " again").json()["access_token"]
    )
    assert stack.api.delete(f"/v1/users/{owner_id}", headers=ravi_owner).status_code == 204
    final = stack.api.get("/v1/audit", headers=ravi_owner).json()["items"]
    assert final[0]["action"] == "user.removed" and final[0]["target"] == owner_id


def test_emailed_links_open_console_pages_and_say_when_they_are_dead(
    mailed: tuple[Stack, Inbox],
) -> None:
    stack, inbox = mailed
    stack.signup("Linkers")
    owner = bearer(login(stack, "owner@linkers.example").json()["access_token"])
    made = stack.api.post(
        "/v1/users",
        json={"email": "asha@linkers.example", "role": "viewer", "teams": ["North"]},
        headers=owner,
    ).json()
    first = eventually(lambda: inbox.to("asha@linkers.example"), 10)[0]
    body = first.get_content()
    assert first["Subject"] == "You are invited to Linkers on closecall"
    assert "as viewer" in body and "the team North" in body
    link = re.search(r"(http\S+/console/accept-invite)#token=(\S+)", body)
    assert link, body
    page = stack.api.get(link.group(1).removeprefix(str(stack.api.base_url).rstrip("/")))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    state = stack.api.post("/v1/auth/link", json={"token": link.group(2)}).json()
    assert (state["purpose"], state["state"], state["email"]) == (
        "invite",
        "valid",
        "asha@linkers.example",
    )

    # a new invitation kills the first link; the new one works once
    again = stack.api.post(f"/v1/users/{made['id']}/invitation", headers=owner)
    assert again.status_code == 202 and again.json()["status"] == "invited"
    assert stack.api.post("/v1/auth/link", json={"token": link.group(2)}).json()["state"] == "used"
    refused = stack.api.post(
        "/v1/auth/accept-invite", json={"token": link.group(2), "password": NEW_PASSWORD}
    ).json()["error"]
    assert refused["code"] == "link_used" and refused["fields"][0]["path"] == "token"
    second = eventually(lambda: inbox.to("asha@linkers.example")[1:], 10)[0]
    accept = {"token": token_in(second), "password": NEW_PASSWORD}
    assert stack.api.post("/v1/auth/accept-invite", json=accept).status_code == 204
    late = stack.api.post(f"/v1/users/{made['id']}/invitation", headers=owner)
    assert late.status_code == 409 and late.json()["error"]["code"] == "not_invited"

    unknown = stack.api.post("/v1/auth/link", json={"token": "cc_inv_nothing"})
    assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "link_unknown"
    stack.api.post("/v1/auth/password-reset", json={"email": "asha@linkers.example"})
    reset = eventually(lambda: inbox.to("asha@linkers.example")[2:], 10)[0]
    assert reset["Subject"] == "Reset your closecall password"
    assert "/console/reset-password#token=" in reset.get_content()
    reinvited = [
        e["action"] for e in stack.api.get("/v1/audit?action=user.", headers=owner).json()["items"]
    ]
    assert reinvited == ["user.reinvited", "user.invited"]


def test_teams_renamed_company_settings_and_a_cancellation_with_its_reason(
    mailed: tuple[Stack, Inbox],
) -> None:
    stack, _ = mailed
    key = stack.signup("Renamers")["api_key"]
    owner = bearer(login(stack, "owner@renamers.example").json()["access_token"])
    for name in ("Ana", "Ben"):
        made = stack.api.post("/v1/employees", json={"name": name, "team": "North"}, headers=owner)
        assert made.status_code == 201, made.text
    invited = stack.api.post(
        "/v1/users",
        json={"email": "lead@renamers.example", "role": "manager", "teams": ["North", "West"]},
        headers=owner,
    ).json()
    renamed = stack.api.post(
        "/v1/teams/rename", json={"name": "North", "new_name": "Mumbai"}, headers=bearer(key)
    )
    assert renamed.status_code == 200 and renamed.json() == {"employees": 2, "users": 1}
    teams = {e["team"] for e in stack.api.get("/v1/employees", headers=owner).json()["items"]}
    assert teams == {"Mumbai"}
    users = stack.api.get("/v1/users", headers=owner).json()["items"]
    assert next(u for u in users if u["id"] == invited["id"])["teams"] == ["Mumbai", "West"]
    gone = stack.api.post(
        "/v1/teams/rename", json={"name": "North", "new_name": "X"}, headers=bearer(key)
    )
    assert gone.status_code == 404

    settings = {
        "name": "Renamers India",
        "country": "in",
        "timezone": "Asia/Kathmandu",
        "privacy_contact_name": "Grievance Officer",
        "privacy_contact_email": "privacy@renamers.example",
    }
    refused = stack.api.patch("/v1/company", json=settings, headers=bearer(key))
    assert refused.status_code == 403  # an API key is never owner
    changed = stack.api.patch("/v1/company", json=settings, headers=owner).json()
    assert (changed["name"], changed["country"], changed["timezone"]) == (
        "Renamers India",
        "IN",
        "Asia/Kathmandu",
    )
    me = stack.api.get("/v1/me", headers=owner).json()["company"]
    assert me["privacy_contact"] == "Grievance Officer <privacy@renamers.example>"
    bad = stack.api.patch("/v1/company", json={"timezone": "Mars/Base"}, headers=owner)
    assert bad.status_code == 422 and bad.json()["error"]["fields"][0]["path"].endswith("timezone")

    cancelled = stack.api.post(
        "/v1/company/cancel", json={"reason": "moving to a CRM's dialer"}, headers=owner
    )
    assert cancelled.status_code == 200, cancelled.text
    # no paid period: deactivated at once, so reactivated before the audit log can be read
    assert stack.api.post("/v1/company/reactivate", headers=owner).status_code == 200
    entries = stack.api.get("/v1/audit?action=subscription.", headers=owner).json()["items"]
    assert [e["action"] for e in entries] == ["subscription.reactivated", "subscription.cancelled"]
    assert entries[1]["details"]["reason"] == "moving to a CRM's dialer"
