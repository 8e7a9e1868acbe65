"""A server that dies before it answers fails its spawn within seconds, through a real Hub.

``http_timeout`` is 30 s: JupyterHub alone would wait that long and then say
the server "never showed up". Each named server runs the tiny image with a
command of its own (a ``pre_spawn_hook`` picks it by server name).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import requests

from tests.e2e.conftest import HubFactory, RunningHub
from tests.e2e.test_hub import containers

pytestmark = pytest.mark.e2e

COMMANDS = {
    # writes to stderr and exits at once: dies inside start()
    "boom": ["sh", "-c", "echo starting up; echo boom >&2; exit 3"],
    # runs when start() returns, dies while JupyterHub waits for its HTTP answer
    "late": ["sh", "-c", "echo starting up; sleep 1; echo boom >&2; exit 3"],
    # a memory hog under mem_limit = 32M
    "oom": ["sh", "-c", "echo allocating; sleep 1; exec dd if=/dev/zero of=/dev/null bs=100M"],
}


@pytest.fixture(scope="module")
def failing_hub(start_hub: HubFactory, tiny_image: str) -> RunningHub:
    return start_hub(
        "fastfail",
        f"""
        c.DockerSpawner.image = "{tiny_image}"
        c.DockerSpawner.allowed_images = {{"default": "{tiny_image}"}}
        c.Spawner.http_timeout = 30
        COMMANDS = {json.dumps(COMMANDS)}

        def pre_spawn_hook(spawner):
            if spawner.name in COMMANDS:
                spawner.cmd = COMMANDS[spawner.name]
            if spawner.name == "oom":
                spawner.mem_limit = "32M"

        c.Spawner.pre_spawn_hook = pre_spawn_hook
        """,
    )


def progress_events(hub: RunningHub, name: str, server: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    path = f"servers/{server}" if server else "server"
    with requests.get(
        f"{hub.url}/hub/api/users/{name}/{path}/progress",
        headers={"Authorization": f"token {hub.api_token}"},
        stream=True,
        timeout=60,
    ) as resp:
        resp.raise_for_status()
        for line in resp.iter_lines(decode_unicode=True):
            if line and line.startswith("data:"):
                event = json.loads(line[len("data:") :])
                events.append(event)
                if event.get("ready") or event.get("failed"):
                    break
    return events


def new_user(hub: RunningHub, base: str) -> str:
    name = f"{base}{int(time.time() * 1000) % 1_000_000}"
    assert hub.api("POST", f"users/{name}").status_code == 201
    return name


def test_exit_in_start_fails_in_seconds_with_code_and_log(failing_hub: RunningHub) -> None:
    hub = failing_hub
    name = new_user(hub, "boom")
    began = time.monotonic()
    resp = hub.api("POST", f"users/{name}/servers/boom")
    took = time.monotonic() - began
    assert resp.status_code == 500, (resp.status_code, resp.text, hub.log_tail())
    message = resp.json()["message"]
    assert "exited with code 3" in message and "boom" in message, message
    assert took < 3, took
    # the progress stream ends with the same text
    events = progress_events(hub, name, "boom")
    assert events[-1].get("failed"), events
    assert message in events[-1]["message"], events
    # the admin log names the container; remove = True: it is gone
    container = f"{hub.prefix}-{name}--boom"
    assert f"The container {container} of {name}:boom died before it answered" in (
        hub.log_path.read_text()
    )
    assert container not in containers(hub.prefix)
    print(f"\nMEASURE fast failure (exit in start): REST API error after {took:.2f} s")


def test_exit_while_the_hub_waits_for_http(failing_hub: RunningHub) -> None:
    """The progress stream, read while the spawn runs, ends with the reason."""
    hub = failing_hub
    name = new_user(hub, "late")
    result: dict[str, Any] = {}

    def post() -> None:
        began = time.monotonic()
        result["resp"] = hub.api("POST", f"users/{name}/servers/late")
        result["took"] = time.monotonic() - began

    poster = threading.Thread(target=post)
    poster.start()
    # follow the stream as the spawn page does, from while the spawn is pending
    deadline = time.monotonic() + 10
    while hub.api("GET", f"users/{name}").json()["servers"].get("late", {}).get("pending") != (
        "spawn"
    ):
        assert time.monotonic() < deadline, hub.log_tail()
        assert poster.is_alive(), result
    events = progress_events(hub, name, "late")
    poster.join(30)
    resp, took = result["resp"], result["took"]
    assert resp.status_code == 500, (resp.status_code, resp.text)
    message = resp.json()["message"]
    assert "exited with code 3" in message and "boom" in message, message
    assert took < 3, took
    assert any(e.get("message", "").startswith("Server is up at") for e in events), events
    last = events[-1]
    assert last.get("failed") and "exited with code 3" in last["message"], events
    assert "boom" in last["message"], events
    print(f"\nMEASURE fast failure (exit during the HTTP wait): {took:.2f} s, events {events}")


def test_out_of_memory_says_so(failing_hub: RunningHub) -> None:
    hub = failing_hub
    name = new_user(hub, "hog")
    began = time.monotonic()
    resp = hub.api("POST", f"users/{name}/servers/oom")
    took = time.monotonic() - began
    assert resp.status_code == 500, (resp.status_code, resp.text)
    message = resp.json()["message"]
    assert "ran out of memory (mem_limit 32 MiB)" in message, message
    assert "allocating" in message, message
    assert took < 5, took
    events = progress_events(hub, name, "oom")
    assert "ran out of memory" in events[-1]["message"], events
    print(f"\nMEASURE fast failure (OOM): {took:.2f} s")
