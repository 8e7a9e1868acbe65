"""max_servers through a real Hub: a 4th concurrent spawn gets HTTP 503 and creates nothing."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.e2e.conftest import HubFactory, RunningHub
from tests.e2e.test_fast_failure_hub import progress_events
from tests.e2e.test_hub import containers, wait_ready, wait_stopped

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def full_hub(start_hub: HubFactory, tiny_image: str) -> RunningHub:
    return start_hub(
        "capacity",
        f"""
        c.DockerSpawner.image = "{tiny_image}"
        c.DockerSpawner.allowed_images = {{"default": "{tiny_image}"}}
        c.DockerSpawner.max_servers = 3
        c.DockerSpawner.stop_grace_period = 0
        """,
    )


def test_fourth_concurrent_spawn_is_refused_then_fits(full_hub: RunningHub) -> None:
    hub = full_hub
    stamp = int(time.time()) % 100000
    names = [f"cap{i}x{stamp}" for i in range(4)]
    for name in names:
        assert hub.api("POST", f"users/{name}").status_code == 201

    def spawn(name: str) -> requests.Response:
        return hub.api("POST", f"users/{name}/server")

    with ThreadPoolExecutor(4) as pool:
        responses = dict(zip(names, pool.map(spawn, names), strict=True))
    refused = [n for n, r in responses.items() if r.status_code == 503]
    assert len(refused) == 1, {n: (r.status_code, r.text) for n, r in responses.items()}
    loser = refused[0]
    message = responses[loser].json()["message"]
    assert message.startswith("The server is full: 3 of 3 servers already run"), message
    assert "(max_servers)" in message
    for name in names:
        if name != loser:
            assert responses[name].status_code in (201, 202), responses[name].text
            wait_ready(hub, name, "")
    # nothing was created for it, and its progress stream says why
    assert f"{hub.prefix}-{loser}" not in containers(hub.prefix)
    events = progress_events(hub, loser, "")
    assert events[-1].get("failed") and "The server is full" in events[-1]["message"], events
    # one stops: the 4th fits
    winner = next(n for n in names if n != loser)
    assert hub.api("DELETE", f"users/{winner}/server").status_code in (202, 204)
    wait_stopped(hub, winner, "")
    assert hub.api("POST", f"users/{loser}/server").status_code in (201, 202)
    wait_ready(hub, loser, "")
    assert f"{hub.prefix}-{loser}" in containers(hub.prefix)
    for name in names:
        hub.api("DELETE", f"users/{name}/server")
    for name in names:
        wait_stopped(hub, name, "")
