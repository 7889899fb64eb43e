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
