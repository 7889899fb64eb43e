"""Debian's Chromium through its chromedriver (Selenium), headless: the console's tests and its
screenshots. The machines cannot download a browser build, so the paths are the packages'."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
DESKTOP = (1280, 900)
PHONE = (390, 844)


def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where pages and mails are photographed: CONSOLE_SCREENSHOTS (docs/console to refresh
    the README's pictures), else a temporary directory."""
    wanted = os.environ.get("CONSOLE_SCREENSHOTS")
    path = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextmanager
def chromium(*arguments: str) -> Iterator[webdriver.Chrome]:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        raise RuntimeError(
            "Chromium is missing: ./scripts/ensure-debian-packages installs Debian's chromium "
            "and chromium-driver (make test runs it)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        *arguments,
    ):
        options.add_argument(argument)
    options.add_argument(f"--window-size={DESKTOP[0]},{DESKTOP[1]}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def open_page(driver: WebDriver, base: str, page: str, timeout_s: float = 30) -> Any:
    """Navigate to a console page and wait until it says it has rendered (`data-ready`)."""
    driver.get(f"{base}/console/#/{page}")
    main = driver.find_element(By.ID, "main")

    def rendered(_driver: WebDriver) -> bool:
        return main.get_attribute("data-page") == page.split("?")[0] and (
            main.get_attribute("data-ready") == "true"
        )

    WebDriverWait(driver, timeout_s).until(rendered)
    return main


def rerendered(driver: WebDriver, before: str | None, timeout_s: float = 30) -> Any:
    """The page's main element once it rendered again after `before` (its `data-render`)."""
    main = driver.find_element(By.ID, "main")

    def again(_driver: WebDriver) -> bool:
        count = main.get_attribute("data-render")
        return count != before and main.get_attribute("data-ready") == "true"

    WebDriverWait(driver, timeout_s).until(again)
    return main


def text_of(driver: WebDriver, css: str) -> str:
    """The text of the first element matching `css` now ("" while none, or while it is being
    replaced)."""
    try:
        found = driver.find_elements(By.CSS_SELECTOR, css)
        return str(found[0].text) if found else ""
    except StaleElementReferenceException:
        return ""


def wait_for(driver: WebDriver, css: str, timeout_s: float = 20) -> Any:
    WebDriverWait(driver, timeout_s).until(lambda d: d.find_elements(By.CSS_SELECTOR, css))
    return driver.find_element(By.CSS_SELECTOR, css)


def sign_in(driver: WebDriver, base: str, email: str, password: str, otp: str = "") -> None:
    driver.delete_all_cookies()
    driver.get(f"{base}/console/")
    wait_for(driver, "form.sign-in")
    driver.find_element(By.NAME, "email").send_keys(email)
    driver.find_element(By.NAME, "password").send_keys(password)
    if otp:
        driver.find_element(By.NAME, "otp").send_keys(otp)
    driver.find_element(By.CSS_SELECTOR, "form.sign-in button[type=submit]").click()


def settle(seconds: float = 0.3) -> None:
    """A moment for the charts' first paint before a screenshot (not a wait for a condition)."""
    time.sleep(seconds)
