"""Policy versions through the real stack and a real SMTP server: the operator publishes a
privacy policy version; every user is mailed once and told in the console's notifications;
a signed-in user's API answers 403 `policy_acceptance_required` (API keys are not held back)
until they accept it; sign-up then needs the versions and the age attestation (422 without);
each acceptance and attestation is in the audit log with its version."""

from __future__ import annotations

import subprocess
from email.message import EmailMessage
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By

from tests.support.browser import (
    chromium,
    open_page,
    screenshot_dir,
    sign_in,
    text_of,
    wait_for,
)
from tests.support.smtp import Inbox
from tests.support.stack import OWNER_PASSWORD, Stack, eventually, owner_token
from tests.test_sign_in import bearer

URL = "https://closecall.example/privacy/2027-01"


def accepted_in_the_console(stack: Stack, shots: Path) -> None:
    """The owner signs in to the console: the new version comes before anything else; once
    accepted, the dashboard; the notifications and the digest settings are photographed."""
    base = str(stack.api.base_url).rstrip("/")
    with chromium() as browser:
        sign_in(browser, base, "owner@lawful.example", OWNER_PASSWORD)
        form = wait_for(browser, "form.policies")
        assert "2027-01" in form.text
        assert browser.find_elements(By.CSS_SELECTOR, "#nav a") == []  # nothing else opens
        browser.save_screenshot(str(shots / "policy-acceptance.png"))
        form.find_element(By.CSS_SELECTOR, "input[name=privacy]").click()
        form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait_for(browser, '#main[data-page="dashboard"][data-ready="true"]', 30)
        assert "Notifications (1)" in text_of(browser, "#nav")
        open_page(browser, base, "notifications")
        assert "We updated our privacy policy (2027-01)" in text_of(browser, "ul.notifications")
        browser.save_screenshot(str(shots / "notifications.png"))
        open_page(browser, base, "account")
        assert (
            wait_for(browser, "form.digest select[name=frequency]").get_attribute("value")
            == "daily"
        )
        browser.save_screenshot(str(shots / "account-digest.png"))


def test_a_published_policy_is_mailed_once_and_blocks_until_accepted(
    mailed: tuple[Stack, Inbox], tmp_path_factory: pytest.TempPathFactory
) -> None:
    stack, inbox = mailed
    key = stack.signup("Lawful")["api_key"]
    owner = bearer(owner_token(stack, "Lawful"))
    assert stack.api.get("/v1/reports/summary", headers=owner).status_code == 200
    assert stack.api.get("/v1/policies").json() == {"items": []}
    invited = stack.api.post(
        "/v1/users", json={"email": "gone@lawful.example", "role": "viewer"}, headers=owner
    )
    assert invited.status_code == 201

    printed = stack.output(
        "policy", "publish", "--kind", "privacy", "--version", "2027-01", "--url", URL
    )
    assert "privacy 2027-01 is in force" in printed

    (mail,) = eventually(lambda: inbox.to("owner@lawful.example"), 20)
    assert isinstance(mail, EmailMessage) and URL in mail.get_content()
    me = stack.api.get("/v1/me", headers=owner).json()
    assert me["pending_policies"] == [{"kind": "privacy", "version": "2027-01", "url": URL}]
    blocked = stack.api.get("/v1/reports/summary", headers=owner)
    assert blocked.status_code == 403
    error = blocked.json()["error"]
    assert error["code"] == "policy_acceptance_required"
    assert error["fields"] == [{"path": "policies.privacy", "message": "2027-01"}]
    assert stack.api.get("/v1/reports/summary", headers=bearer(key)).status_code == 200

    wrong = stack.api.post(
        "/v1/me/policies/privacy/accept", json={"version": "2026-01"}, headers=owner
    )
    assert wrong.status_code == 422
    accepted_in_the_console(stack, screenshot_dir(tmp_path_factory))
    assert stack.api.get("/v1/reports/summary", headers=owner).status_code == 200
    assert stack.api.get("/v1/me", headers=owner).json()["pending_policies"] == []
    notices = stack.api.get("/v1/notifications", headers=owner).json()
    assert [n["kind"] for n in notices["items"]] == ["policy.published"] and notices["unread"] == 1
    notice_id = notices["items"][0]["id"]
    read = stack.api.post(f"/v1/notifications/{notice_id}/read", headers=owner)
    assert read.status_code == 204
    assert stack.api.get("/v1/notifications", headers=owner).json()["unread"] == 0

    # sign-up now takes the version in force and the age attestation
    without_age = stack.api.post(
        "/v1/signup",
        json={
            "company_name": "Young",
            "country": "IN",
            "email": "owner@young.example",
            "password": "correct horse battery staple",
            "accepted_policies": {"privacy": "2027-01"},
        },
    )
    assert without_age.status_code == 422
    assert [f["path"] for f in without_age.json()["error"]["fields"]] == ["age_confirmed"]
    stack.signup("Adult", accepted_policies={"privacy": "2027-01"}, age_confirmed=True)
    adult = bearer(owner_token(stack, "Adult"))
    assert stack.api.get("/v1/reports/summary", headers=adult).status_code == 200
    audited = stack.api.get("/v1/audit", headers=adult).json()["items"]
    actions = {entry["action"]: entry for entry in audited}
    assert actions["policy.accepted"]["details"]["version"] == "2027-01"
    assert actions["age.confirmed"]["details"] == {"minimum_age": 18}

    # a told user can still be deleted (their notification and acceptances go with them)
    gone = invited.json()["id"]
    assert stack.api.delete(f"/v1/users/{gone}", headers=owner).status_code == 204
    # mailed once per user: a second publication of the same version is refused
    with pytest.raises(subprocess.CalledProcessError):
        stack.output("policy", "publish", "--kind", "privacy", "--version", "2027-01", "--url", URL)
    assert len(inbox.to("owner@lawful.example")) == 1
    lawful_audit = stack.api.get("/v1/audit", headers=owner).json()["items"]
    assert {"policy.published", "policy.accepted"} <= {e["action"] for e in lawful_audit}
