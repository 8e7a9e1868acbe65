"""The spawn page's progress stream through a real Hub, for an image that must be pulled.

The single-user image plus two layers of random bytes is pushed to the local
registry and removed locally; a Hub spawns it and the test reads the Hub's
own event stream (``/hub/api/users/<name>/server/progress``), as the spawn
page does.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import TEST_PREFIX
from tests.e2e.conftest import HubFactory, RunningHub
from tests.registry import push_layered_image, remove_local, require_registry

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def pulled_image(singleuser_image: str) -> Iterator[str]:
    require_registry()
    ref = asyncio.run(
        push_layered_image(
            singleuser_image, f"aiodockerspawner-test/{TEST_PREFIX}-singleuser-layers", layers=2
        )
    )
    yield ref
    asyncio.run(remove_local(ref))


@pytest.fixture(scope="module")
def progress_hub(start_hub: HubFactory, pulled_image: str) -> RunningHub:
    return start_hub(
        "progress",
        f"""
        c.DockerSpawner.image = "{pulled_image}"
        c.DockerSpawner.pull_progress_interval = 0
        # answer the spawn request at once, so the stream is read while the pull runs
        c.JupyterHub.tornado_settings = {{"slow_spawn_timeout": 0}}
        """,
    )


def read_progress(hub: RunningHub, name: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    with requests.get(
        f"{hub.url}/hub/api/users/{name}/server/progress",
        headers={"Authorization": f"token {hub.api_token}"},
        stream=True,
        timeout=180,
    ) as resp:
        resp.raise_for_status()
        for line in resp.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                event = json.loads(line[len("data:") :])
                events.append(event)
                if event.get("ready") or event.get("failed"):
                    break
    return events


def test_progress_shows_the_pull_then_the_start_then_ready(
    progress_hub: RunningHub, pulled_image: str
) -> None:
    hub = progress_hub
    name = f"progress{int(time.time()) % 100000}"
    assert hub.api("POST", f"users/{name}").status_code in (201, 409)
    resp = hub.api("POST", f"users/{name}/server")
    assert resp.status_code == 202, (resp.status_code, resp.text, hub.log_tail())
    try:
        events = read_progress(hub, name)
    finally:
        hub.api("DELETE", f"users/{name}/server")
    assert events[-1].get("ready"), (events, hub.log_tail())
    messages = [e.get("message", "") for e in events]
    pulling = [e["progress"] for e in events if e.get("message", "").startswith("Pulling image")]
    assert len(pulling) >= 3, messages
    assert len(set(pulling)) >= 3, messages
    assert pulling == sorted(pulling), "pull percentages went backwards"
    assert all(2 <= p <= 50 for p in pulling)
    after = messages[messages.index(f"Pulled image {pulled_image}") + 1 :]
    starting = [m.split(" ")[0] for m in after[:4]]
    assert starting[:2] == ["Created", "Starting"], messages
    assert after[2].endswith("is running; finding its address"), messages
    assert after[3].startswith("Server is up at http"), messages
    percents = [e["progress"] for e in events if "progress" in e]
    assert percents == sorted(percents)
    assert events[-1]["progress"] == 100
    print(f"\nMEASURE hub progress stream: {len(events)} events, pull percentages {pulling}")
