"""A real browser for the tests: Debian's headless Chromium, driven with Selenium.

scripts/ensure-browser (run by scripts/ensure-services) installs ``chromium``
and ``chromium-driver``; a test that needs them fails, never skips, when they
are missing. The Hub fixtures of the end-to-end tier are available here too.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.wait import WebDriverWait

from tests.e2e.conftest import start_hub

__all__ = ["browser", "browser_without_js", "launch", "log_in", "start_hub"]

CHROMEDRIVER = "/usr/bin/chromedriver"


def launch(profile_dir: Path, *, javascript: bool = True) -> webdriver.Chrome:
    """Start a headless Chromium with a fresh profile in ``profile_dir``."""
    chromium = shutil.which("chromium")
    if chromium is None or not Path(CHROMEDRIVER).exists():
        pytest.fail("chromium or chromium-driver is missing; run scripts/ensure-browser")
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in (
        "--headless=new",
        "--no-sandbox",  # the tests run as root
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-extensions",
        "--no-first-run",
        "--window-size=1000,1000",
        f"--user-data-dir={profile_dir}",
    ):
        opts.add_argument(flag)
    if not javascript:
        opts.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    # an explicit driver: Selenium Manager would try to download one first
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.set_page_load_timeout(60)
    return driver


def log_in(browser: webdriver.Chrome, url: str, name: str) -> None:
    """Log ``name`` in through the Hub's login form (the dummy authenticator takes any password)."""
    browser.get(f"{url}/hub/login")
    browser.find_element(By.ID, "username_input").send_keys(name)
    browser.find_element(By.ID, "password_input").send_keys("any")
    browser.find_element(By.ID, "login_submit").click()
    WebDriverWait(browser, 30).until(expected_conditions.url_contains("/hub/"))


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """A headless Chromium (a fresh profile per test) as a Selenium WebDriver."""
    driver = launch(tmp_path / "chromium-profile")
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser_without_js(tmp_path: Path) -> Iterator[webdriver.Chrome]:
    """The same, with JavaScript switched off."""
    driver = launch(tmp_path / "chromium-profile-nojs", javascript=False)
    try:
        yield driver
    finally:
        driver.quit()
