"""Pre-pull at Hub start, through a real Hub: the API stays fast, a spawn joins the pull.

A Hub with one running server is restarted with ``prepull_images`` set: at
its start JupyterHub loads (and polls) that server's spawner, which starts the
pre-pull of a 200 MB image (the tiny image plus four layers of random bytes,
unique to the run) through a front of the local registry sending 25 MiB/s.
While it runs, the Hub's REST API is timed (every call under 100 ms while the
pre-pull runs alone), and a second user spawns that image: the spawn joins
the pull in flight (one pull, each layer fetched once) and its progress
stream shows the pull's percentages. JupyterHub's own work for a spawn (its
token and OAuth client) holds its loop for up to ~0.2 s on the loaded test
machine, so calls made while the spawn starts are held to a median only.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import TEST_PREFIX
from tests.e2e.conftest import HubFactory, RunningHub
from tests.e2e.test_fast_failure_hub import progress_events
from tests.e2e.test_hub import wait_ready, wait_stopped
from tests.registry import RegistryFrontThread, push_layered_image, remove_local, require_registry

pytestmark = pytest.mark.e2e

RATE = 25 * 1024 * 1024


@pytest.fixture(scope="module")
def big_image(tiny_image: str) -> Iterator[str]:
    require_registry()
    ref = asyncio.run(
        push_layered_image(
            tiny_image, f"aiodockerspawner-test/{TEST_PREFIX}-big", layers=4, layer_mb=50
        )
    )
    yield ref


def api_latency(hub: RunningHub) -> float:
    began = time.monotonic()
    resp = hub.api("GET", "users/keeper")
    assert resp.status_code == 200, resp.text
    return time.monotonic() - began


def log_lines(hub: RunningHub, pattern: str) -> list[str]:
    rx = re.compile(pattern)
    return [line for line in hub.log_path.read_text().splitlines() if rx.search(line)]


def test_prepull_at_hub_start(start_hub: HubFactory, tiny_image: str, big_image: str) -> None:
    with RegistryFrontThread(rate=RATE) as front:
        image = front.ref(big_image)
        hub = start_hub(
            "prepull",
            f"""
            c.DockerSpawner.image = "{tiny_image}"
            c.DockerSpawner.allowed_images = {{"default": "{tiny_image}", "big": "{image}"}}
            c.DockerSpawner.pull_progress_interval = 0.25
            c.JupyterHub.cleanup_servers = False
            c.JupyterHub.tornado_settings = {{"slow_spawn_timeout": 0}}
            """,
        )
        try:
            run(hub, front, image)
        finally:
            for name in ("keeper", "joiner"):
                hub.api("DELETE", f"users/{name}/server")
            for name in ("keeper", "joiner"):
                wait_stopped(hub, name, "")
            asyncio.run(remove_local(image))


def run(hub: RunningHub, front: Any, image: str) -> None:
    # a running server, so that the restarted Hub loads a spawner at its start
    assert hub.api("POST", "users/keeper").status_code == 201
    assert hub.api("POST", "users/keeper/server").status_code in (201, 202)
    wait_ready(hub, "keeper", "")
    baseline = [api_latency(hub) for _ in range(40)]  # the same calls, nothing pulling
    hub.stop()  # cleanup_servers = False: keeper's container goes on
    with hub.config_path.open("a") as config:
        config.write(f"c.DockerSpawner.prepull_images = [{image!r}]\n")
    hub.launch()
    assert log_lines(hub, r"Pre-pulling 1 image\(s\)"), hub.log_tail()

    deadline = time.monotonic() + 60
    while front.bytes_sent < 2 * 1024 * 1024:
        assert time.monotonic() < deadline, hub.log_tail()
        time.sleep(0.05)
    assert not log_lines(hub, rf"Pre-pulled image {re.escape(image)}"), "the pull was too fast"

    # the API while only the pre-pull runs, then while a spawn joins it
    alone: list[float] = []
    with_spawn: list[float] = []
    joined: dict[str, Any] = {}

    def spawn() -> None:
        assert hub.api("POST", "users/joiner").status_code == 201
        resp = hub.api("POST", "users/joiner/server", json={"user_options": {"image": "big"}})
        joined["status"] = resp.status_code
        joined["events"] = progress_events(hub, "joiner", "")

    spawner = threading.Thread(target=spawn)
    while not log_lines(hub, rf"Pre-pulled image {re.escape(image)}"):
        (with_spawn if spawner.is_alive() or joined else alone).append(api_latency(hub))
        if len(alone) == 50 and not spawner.is_alive() and not joined:
            assert not log_lines(hub, rf"Pre-pulled image {re.escape(image)}")
            spawner.start()  # the pull is well under way
        assert time.monotonic() < deadline + 120, hub.log_tail()
        time.sleep(0.05)
    spawner.join(120)

    assert joined["status"] == 202, joined
    events = joined["events"]
    assert events[-1].get("ready"), (events, hub.log_tail())
    pulling = [e["progress"] for e in events if e.get("message", "").startswith("Pulling image")]
    assert len(set(pulling)) >= 3, events
    # one pull: the spawn joined it, and the registry served every layer once
    assert len(log_lines(hub, rf"\] Pulling image {re.escape(image)}$")) == 1
    assert log_lines(hub, rf"Waiting for the pull of {re.escape(image)} already in progress")
    fetches = front.blob_fetches()
    assert len(fetches) >= 4 and all(n == 1 for n in fetches.values()), fetches

    def ms(values: list[float]) -> str:
        return (
            f"median {statistics.median(values) * 1000:.0f} ms, worst {max(values) * 1000:.0f} ms"
        )

    print(
        f"\nMEASURE prepull at Hub start ({front.bytes_sent / 1e6:.0f} MB at "
        f"{RATE / 1024 / 1024:.0f} MiB/s): Hub API during the pre-pull {ms(alone)} "
        f"({len(alone)} calls); while a spawn joins it {ms(with_spawn)} ({len(with_spawn)}); "
        f"nothing pulling {ms(baseline)}; spawn percentages {pulling}"
    )
    assert max(alone) < 0.1, [round(t * 1000) for t in alone]
    assert statistics.median(with_spawn) < 0.1, [round(t * 1000) for t in with_spawn]
