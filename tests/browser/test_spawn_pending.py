"""The spawn-pending page in headless Chromium while the image is pulled from a slow registry.

The tiny image plus two layers of random bytes is pushed to the local
registry and removed from the daemon, so a spawn has to pull those layers.
The Hub names the image through a :class:`~benchmarks.proxies.ThrottlingTCPProxy`
in front of the registry (the daemon treats 127.0.0.0/8 registries as
insecure, so plain HTTP works), which makes the pull last several seconds.
The browser logs in, the spawn starts, and the test reads the page as a user
sees it: the message with the pull percentage, the progress bar, then the
server's own page once the Hub sends the browser on.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import (
    JavascriptException,
    NoSuchElementException,
    TimeoutException,
)
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from benchmarks.proxies import ThrottlingTCPProxy
from tests.browser.conftest import log_in
from tests.conftest import TEST_PREFIX
from tests.e2e.conftest import HubFactory, RunningHub
from tests.faults.servers import READY_MARKER, tiny_hub_config, wait_stopped
from tests.registry import REGISTRY, push_layered_image, remove_local, require_registry

pytestmark = pytest.mark.e2e

#: where the documentation's screenshot lives; rewritten with AIODOCKERSPAWNER_SCREENSHOTS=1
DOC_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "_static" / "spawn-pending.png"

#: two layers of 3 MiB at 768 KiB/s: a pull of about 8 s
LAYERS, LAYER_MB = 2, 3
RATE = 768 * 1024
#: from login to the server's page; the pull is most of it
DEADLINE = 60

PULL_MESSAGE = re.compile(r"Pulling image \S+: (\d+)%")

#: what the page shows, read in one round trip (the elements vanish when it moves on)
READ_PAGE = """
const text = (id) => { const e = document.getElementById(id); return e ? e.textContent : null; };
const bar = document.getElementById("progress-bar");
return [
    window.location.href,
    text("progress-message"),
    bar ? bar.getAttribute("aria-valuenow") : null,
    document.documentElement.outerHTML.includes(arguments[0]),
];
"""


class ThrottleThread:
    """A :class:`ThrottlingTCPProxy` on an event loop of its own, for a blocking test."""

    def __init__(self, target: str, rate: float) -> None:
        host, port = target.rsplit(":", 1)
        self.proxy = ThrottlingTCPProxy(host, int(port), rate)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="throttle")

    def __enter__(self) -> ThrottleThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.proxy.start(), self._loop).result(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.proxy.stop(), self._loop).result(timeout=30)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=30)
            self._loop.close()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.proxy.port}"


@pytest.fixture(scope="module")
def slow_image(tiny_image: str) -> Iterator[str]:
    """The tiny image with layers to pull, named through a throttling proxy."""
    require_registry()
    pushed = asyncio.run(
        push_layered_image(
            tiny_image,
            f"aiodockerspawner-test/{TEST_PREFIX}-pending",
            layers=LAYERS,
            layer_mb=LAYER_MB,
        )
    )
    with ThrottleThread(REGISTRY, RATE) as throttle:
        slow = pushed.replace(REGISTRY, throttle.address, 1)
        asyncio.run(remove_local(slow))  # a copy left by an interrupted run
        try:
            yield slow
        finally:
            asyncio.run(remove_local(slow))


@pytest.fixture(scope="module")
def hub(start_hub: HubFactory, slow_image: str) -> Iterator[RunningHub]:
    running = start_hub(
        "pending",
        tiny_hub_config(slow_image, remove=True)
        # the Hub's default (10 s) would hold the browser on the spawn request
        # for most of the pull: send it to the pending page at once
        + '\nc.JupyterHub.tornado_settings = {"slow_spawn_timeout": 0}\n',
    )
    yield running
    running.stop()


@dataclass
class Seen:
    """What the test saw on the page, poll after poll."""

    pull_percents: list[int] = field(default_factory=list)
    bar_values: list[int] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)

    def record(self, url: str, message: str | None, bar: str | None) -> int | None:
        if not self.urls or self.urls[-1] != url:
            self.urls.append(url)
        if message and (not self.messages or self.messages[-1] != message):
            self.messages.append(message)
        if bar is not None and bar.isdigit():
            self.bar_values.append(int(bar))
        match = PULL_MESSAGE.search(message or "")
        if match is None:
            return None
        percent = int(match.group(1))
        if not self.pull_percents or self.pull_percents[-1] != percent:
            self.pull_percents.append(percent)
        return percent


def test_the_pending_page_shows_the_pull_rising_then_opens_the_server(
    browser: webdriver.Chrome, hub: RunningHub, slow_image: str, tmp_path: Path
) -> None:
    name = "pat"
    shot = tmp_path / "spawn-pending.png"
    seen = Seen()
    began = time.monotonic()
    try:
        log_in(browser, hub.url, name)
        browser.get(f"{hub.url}/hub/spawn/{name}")

        def poll(driver: webdriver.Chrome) -> bool:
            url, message, bar, marker = driver.execute_script(READ_PAGE, READY_MARKER)
            percent = seen.record(url, message, bar)
            # mid-pull, with the event log opened as a curious user would
            if percent is not None and 30 <= percent < 90 and not shot.exists():
                driver.find_element(By.CSS_SELECTOR, "#progress-details summary").click()
                driver.set_window_size(1000, 760)
                driver.save_screenshot(str(shot))
            return f"/user/{name}/" in url and bool(marker)

        try:
            landed = WebDriverWait(
                browser,
                DEADLINE,
                poll_frequency=0.1,
                ignored_exceptions=(JavascriptException, NoSuchElementException),
            ).until(poll)
        except TimeoutException:
            landed = False
        elapsed = time.monotonic() - began
        report: dict[str, Any] = {
            "pull": seen.pull_percents,
            "bar": sorted(set(seen.bar_values)),
            "messages": seen.messages,
            "urls": seen.urls,
            "elapsed": round(elapsed, 1),
        }
        assert landed, (report, hub.log_tail())
        # the page showed the pull's percentage, rising
        assert len(seen.pull_percents) >= 2, report
        assert seen.pull_percents == sorted(seen.pull_percents), report
        assert seen.pull_percents[-1] > seen.pull_percents[0], report
        # and the bar moved with it (the pull spans 2-50 % of the bar)
        assert len({v for v in seen.bar_values if 2 <= v <= 50}) >= 2, report
        assert any(f"/hub/spawn-pending/{name}" in u for u in seen.urls), report
        assert shot.exists(), report
        print(f"\nMEASURE spawn-pending page: {report}")
        if os.environ.get("AIODOCKERSPAWNER_SCREENSHOTS"):
            shutil.copyfile(shot, DOC_SCREENSHOT)
    finally:
        hub.api("DELETE", f"users/{name}/server")
        wait_stopped(hub, [(name, "")])
