"""A Docker API that stops answering: clear messages, bounded waits, a responsive Hub.

The fake Engine of ``aiodockerspawner.testing`` hangs requests on demand.
tests/unit/test_testing_harness.py already shows that a start hanging in its
create request is cancelled by ``start_timeout`` and that a hanging stop
returns by its deadline. Here:

- the start gives up by itself just before ``start_timeout`` with a message
  that names the request Docker never answered, even when every request
  hangs, its own clean-up included;
- a real JupyterHub pointed at the fake Engine (``DOCKER_HOST``) shows that
  message on the spawn page (the progress stream) after patience messages
  naming the same request, keeps answering its REST API while a spawn and
  then a stop hang, and ends both within their deadlines.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from aiodockerspawner import DockerSpawner
from aiodockerspawner.deadlines import CLEANUP_GRACE, start_deadline
from aiodockerspawner.errors import DockerUnavailable, StartTimedOut
from aiodockerspawner.testing import FakeEngine
from aiodockerspawner.testing.pytest_plugin import DEFAULT_IMAGE, fake_docker, fake_spawner
from tests.e2e.conftest import HubFactory, RunningHub, free_port
from tests.faults.enginethread import EngineThread

__all__ = ["fake_docker", "fake_spawner"]  # fixtures used below

SpawnerFactory = Callable[..., DockerSpawner]


def test_an_unreachable_daemon_is_named_as_the_cause() -> None:
    e = DockerUnavailable("create container", "jupyter-a", 900, "Server disconnected")
    assert e.reason == (
        "Docker is not answering (create container jupyter-a failed: Server disconnected)"
    )
    e.reason = "error"  # as JupyterHub relabels a failed spawn
    assert e.reason == "error"


def test_start_deadline_is_just_before_start_timeout() -> None:
    assert start_deadline(60) == 59
    assert start_deadline(4) == 3
    assert start_deadline(1) == 0.5
    assert start_deadline(0) is None


async def test_start_gives_up_before_start_timeout_naming_the_request(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    fake_docker.inject(r"^POST /containers/create$", hang=True)
    spawner = fake_spawner(remove=True, start_timeout=3)
    loop = asyncio.get_running_loop()
    began = loop.time()
    # as JupyterHub calls it: wrapped in wait_for(start_timeout)
    with pytest.raises(StartTimedOut) as info:
        await asyncio.wait_for(spawner.start(), timeout=spawner.start_timeout)
    elapsed = loop.time() - began
    assert start_deadline(3) <= elapsed < 3
    message = info.value.jupyterhub_message  # type: ignore[attr-defined]
    assert message.startswith("Could not start your server: Docker had not answered")
    assert f"create container {spawner.object_name}" in message
    assert "start_timeout" in message
    assert fake_docker.containers == {}


async def test_start_gives_up_in_time_when_its_clean_up_hangs_too(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    # the daemon answers nothing at all: the create, and the inspect with which a
    # start cancelled during its create looks for what it may have created
    fake_docker.inject(r"^(POST /containers/create|GET /containers/.*/json)$", hang=True)
    spawner = fake_spawner(remove=True, start_timeout=3)
    loop = asyncio.get_running_loop()
    began = loop.time()
    with pytest.raises(StartTimedOut, match="create container"):
        await asyncio.wait_for(spawner.start(), timeout=spawner.start_timeout)
    assert loop.time() - began < start_deadline(3) + CLEANUP_GRACE + 0.5
    assert fake_docker.count(r"^GET /containers/.*/json$") == 1  # the clean-up did try


async def test_a_slow_start_is_not_cut_short(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    fake_docker.inject(r"^POST /containers/create$", delay=1.0)
    spawner = fake_spawner(remove=True, start_timeout=3)
    url = await asyncio.wait_for(spawner.start(), timeout=spawner.start_timeout)
    assert url.startswith("http://")
    await spawner.stop()


async def test_patience_messages_name_the_unanswered_request(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    fake_docker.inject(r"^POST /containers/create$", hang=True)
    spawner = fake_spawner(
        remove=True, slow_spawn_message_after=0, slow_spawn_message_every=0.2, start_timeout=10
    )
    task = asyncio.create_task(spawner.start())
    events = spawner.progress()
    messages = [(await anext(events))["message"] for _ in range(2)]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert messages[-1].startswith(
        f"Still waiting for Docker to answer create container {spawner.object_name} ("
    ), messages


async def test_stop_deadline_says_what_did_not_answer(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    spawner = fake_spawner(remove=True, stop_grace_period=0, docker_request_timeout=1)
    await spawner.start()
    fake_docker.inject(r"^POST /containers/[^/]+/stop$", hang=True)
    with pytest.raises(asyncio.TimeoutError, match="Docker did not answer within 1 s"):
        await spawner.stop()


# -- a real Hub on the fake Engine ---------------------------------------------------

START_TIMEOUT = 5
REQUEST_TIMEOUT = 4
GRACE = 1


def hub_config(port: int) -> str:
    return textwrap.dedent(
        f"""
        c.DockerSpawner.image = {DEFAULT_IMAGE!r}
        c.DockerSpawner.allowed_images = {{}}
        c.DockerSpawner.network_name = "host"
        c.DockerSpawner.port = {port}
        c.DockerSpawner.stop_grace_period = {GRACE}
        c.DockerSpawner.docker_request_timeout = {REQUEST_TIMEOUT}
        c.DockerSpawner.slow_spawn_message_after = 1
        c.DockerSpawner.slow_spawn_message_every = 1
        c.Spawner.start_timeout = {START_TIMEOUT}
        c.Spawner.http_timeout = 10
        # answer spawn and stop requests at once (202), as a browser's spawn page gets them
        c.JupyterHub.tornado_settings = {{"slow_spawn_timeout": 0, "slow_stop_timeout": 0}}
        """
    )


class LatencyProbe:
    """Times GET /hub/api/ back to back, in a thread, until stopped."""

    def __init__(self, hub: RunningHub) -> None:
        self.hub = hub
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            try:
                status = self.hub.api("GET", "").status_code
                if status != 200:
                    self.errors.append(f"HTTP {status}")
            except requests.RequestException as e:
                self.errors.append(repr(e))
            self.latencies.append(time.monotonic() - began)
            self._stop.wait(0.05)

    def __enter__(self) -> LatencyProbe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)

    def summary(self) -> str:
        return (
            f"{len(self.latencies)} requests, median {statistics.median(self.latencies) * 1000:.0f}"
            f" ms, max {max(self.latencies) * 1000:.0f} ms"
        )


def read_progress(hub: RunningHub, name: str, out: list[dict]) -> None:
    """The spawn page's event stream, as a browser reads it, until it ends."""
    resp = hub.api("GET", f"users/{name}/server/progress", stream=True)
    for line in resp.iter_lines(decode_unicode=True):
        if line and line.startswith("data:"):
            event = json.loads(line[len("data:") :])
            out.append(event)
            if event.get("failed") or event.get("ready"):
                return


def wait_until(check: Callable[[], bool], timeout: float) -> float:
    began = time.monotonic()
    while not check():
        if time.monotonic() - began > timeout:
            raise AssertionError(f"not within {timeout}s")
        time.sleep(0.05)
    return time.monotonic() - began


def has_server(hub: RunningHub, name: str) -> bool:
    model = hub.api("GET", f"users/{name}").json()
    return bool(model.get("pending")) or "" in (model.get("servers") or {})


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineThread]:
    with EngineThread(tmp_path / "docker.sock") as running:
        running.call(lambda: running.engine.add_image(DEFAULT_IMAGE))  # type: ignore[union-attr]
        yield running


def test_hub_on_a_hanging_docker_api(start_hub: HubFactory, engine: EngineThread) -> None:
    port = free_port()
    engine.serve_http(port)  # the stand-in server of a start that does complete
    hub = start_hub("hang", hub_config(port), env={"DOCKER_HOST": engine.url})
    fake = engine.engine
    assert fake is not None
    try:
        resp = hub.api("POST", "users", json={"usernames": ["alice", "bob"]})
        assert resp.status_code == 201, resp.text

        # 1. a start whose create is never answered
        engine.call(fake.inject, r"^POST /containers/create$", hang=True, times=1)
        events: list[dict] = []
        with LatencyProbe(hub) as during_start:
            began = time.monotonic()
            assert hub.api("POST", "users/alice/server").status_code == 202
            reader = threading.Thread(target=read_progress, args=(hub, "alice", events))
            reader.start()
            wait_until(lambda: not has_server(hub, "alice"), START_TIMEOUT + 5)
            reader.join(timeout=10)
        failed_after = time.monotonic() - began
        messages = [e.get("message", "") for e in events]
        print(
            f"\nMEASURE hanging create: the spawn failed {failed_after:.1f}s after it was "
            f"requested (start_timeout {START_TIMEOUT}s); Hub API during it: "
            f"{during_start.summary()}; last message: {messages[-1] if messages else None!r}"
        )
        assert failed_after < START_TIMEOUT + 1
        assert events and events[-1].get("failed"), events
        assert messages[-1].startswith(
            "Spawn failed: Could not start your server: Docker had not answered create container"
        ), messages
        assert any(m.startswith("Still waiting for Docker to answer create") for m in messages)
        assert not during_start.errors, during_start.errors
        assert max(during_start.latencies) < 1.0, during_start.summary()
        assert engine.call(lambda: dict(fake.containers)) == {}

        # 2. a server that starts, then a stop that is never answered
        assert hub.api("POST", "users/bob/server").status_code in (201, 202)
        wait_until(
            lambda: bool(hub.api("GET", "users/bob").json()["servers"].get("", {}).get("ready")), 20
        )
        engine.call(fake.inject, r"^POST /containers/[^/]+/stop$", hang=True)
        with LatencyProbe(hub) as during_stop:
            began = time.monotonic()
            assert hub.api("DELETE", "users/bob/server").status_code in (202, 204)
            wait_until(lambda: not has_server(hub, "bob"), GRACE + REQUEST_TIMEOUT + 5)
            stopped_after = time.monotonic() - began
        print(
            f"MEASURE hanging stop: the Hub gave up on it {stopped_after:.1f}s after it was "
            f"requested (deadline {GRACE + REQUEST_TIMEOUT}s); Hub API during it: "
            f"{during_stop.summary()}"
        )
        assert GRACE + REQUEST_TIMEOUT - 0.5 <= stopped_after < GRACE + REQUEST_TIMEOUT + 2
        assert not during_stop.errors, during_stop.errors
        assert max(during_stop.latencies) < 1.0, during_stop.summary()
        log = hub.log_path.read_text(errors="replace")
        assert "Giving up starting alice" in log
        assert f"Docker did not answer within {GRACE + REQUEST_TIMEOUT:g} s" in log
    finally:
        engine.call(fake.faults.clear)
        for name in ("alice", "bob"):
            hub.api("DELETE", f"users/{name}")
        hub.stop()


async def test_a_long_post_start_cmd_is_not_blamed_on_docker(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    fake_docker.inject(r"^POST /exec/[^/]+/start$", delay=2.0)
    spawner = fake_spawner(remove=True, post_start_cmd="sleep 2", start_timeout=2)
    with pytest.raises(StartTimedOut) as info:
        await asyncio.wait_for(spawner.start(), timeout=spawner.start_timeout)
    assert info.value.reason.startswith("it was still running post_start_cmd"), info.value.reason
