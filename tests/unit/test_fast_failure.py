"""Fast failure on the fake Engine: the paths a real daemon does not take on demand.

The real-daemon behaviour is in tests/docker/test_fast_failure.py and, through
a real Hub, tests/e2e/test_fast_failure_hub.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from tornado import web

from aiodockerspawner import DockerSpawner
from aiodockerspawner.testing import FakeEngine
from aiodockerspawner.testing.pytest_plugin import fake_docker, fake_spawner
from tests.helpers import give_hub_server, hub_wait_up

__all__ = ["fake_docker", "fake_spawner"]  # fixtures used below

SpawnerFactory = Callable[..., DockerSpawner]
ATTACH = r"^POST /containers/[^/]+/attach$"


async def start_then_die(
    engine: FakeEngine, spawner: DockerSpawner, *, code: int, oom: bool = False
) -> web.HTTPError:
    """start(), then JupyterHub's HTTP wait, during which the container writes and dies."""
    give_hub_server(spawner)
    url = await spawner.start()
    waiting = asyncio.ensure_future(hub_wait_up(spawner, url, 30))
    engine.write_output(spawner.object_name, "loading\n")
    engine.write_output(spawner.object_name, "Traceback: boom\n", stream=2)
    engine.exit_container(spawner.object_name, code, oom=oom)
    with pytest.raises(web.HTTPError) as info:
        await asyncio.wait_for(waiting, 5)
    return info.value


def text_of(error: web.HTTPError) -> str:
    return str(getattr(error, "jupyterhub_message", ""))


async def test_death_during_the_http_wait(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    spawner = fake_spawner(remove=True, mem_limit="64M")
    error = await start_then_die(fake_docker, spawner, code=137, oom=True)
    text = text_of(error)
    assert error.status_code == 500
    assert "exited with code 137" in text
    assert "ran out of memory (mem_limit 64 MiB)" in text
    assert text.endswith("loading\nTraceback: boom"), text
    assert spawner._startup_watch is None
    await spawner.stop()


async def test_without_the_events_stream_the_output_end_tells(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    """events_cache off: the attach stream ending, then one inspect, tell the exit code."""
    spawner = fake_spawner(remove=False, events_cache=False)
    error = await start_then_die(fake_docker, spawner, code=2)
    text = text_of(error)
    assert "exited with code 2" in text and "Traceback: boom" in text, text
    await spawner.stop()


async def test_log_read_afterwards_when_attach_is_refused(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    fake_docker.inject(ATTACH, status=500, message="attach not supported")
    spawner = fake_spawner(remove=False)
    error = await start_then_die(fake_docker, spawner, code=1)
    text = text_of(error)
    assert "exited with code 1" in text and "Traceback: boom" in text, text
    assert fake_docker.count(r"^GET /containers/[^/]+/logs$") == 1
    await spawner.stop()


async def test_no_log_no_attach(fake_docker: FakeEngine, fake_spawner: SpawnerFactory) -> None:
    spawner = fake_spawner(remove=True, failure_log_lines=0)
    error = await start_then_die(fake_docker, spawner, code=1)
    text = text_of(error)
    assert "exited with code 1" in text and "boom" not in text, text
    assert fake_docker.count(ATTACH) == 0
    await spawner.stop()


async def test_a_hung_attach_does_not_hold_the_start(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiodockerspawner.backends.container import startup

    monkeypatch.setattr(startup, "ATTACH_DEADLINE", 0.2)
    fake_docker.inject(ATTACH, hang=True)
    spawner = fake_spawner(remove=True)
    error = await start_then_die(fake_docker, spawner, code=5)
    text = text_of(error)
    assert "exited with code 5" in text and "Its log could not be read" in text, text
    await spawner.stop()


async def test_a_server_that_answers_ends_the_window(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    spawner = fake_spawner(remove=True)
    give_hub_server(spawner)
    await spawner.start()
    watch = spawner._startup_watch
    assert watch is not None
    server = spawner.server
    assert server is not None and "wait_up" in vars(server)  # the race is in place

    async def answered() -> str:  # JupyterHub's wait, when the server answers
        return "answered"

    result = await spawner._race_death(answered(), watch)
    assert result == "answered"
    assert spawner._startup_watch is None and "wait_up" not in vars(server)
    fake_docker.exit_container(spawner.object_name, 1)  # later: poll's business
    assert watch.died.cancelled()
    await spawner.stop()


async def test_without_a_hub_the_watch_ends_with_start(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory
) -> None:
    spawner = fake_spawner(remove=True)
    await spawner.start()
    assert spawner._startup_watch is None
    await spawner.stop()


@pytest.mark.parametrize(
    "traits",
    [{"events_cache": True}, {"events_cache": False, "failure_log_lines": 0}],
    ids=["attach-refused", "nothing-to-watch"],
)
async def test_a_slow_start_without_an_output_stream_is_no_death(
    fake_docker: FakeEngine, fake_spawner: SpawnerFactory, traits: dict[str, object]
) -> None:
    """No output stream to end: a container not started yet must not pass for dead."""
    fake_docker.inject(ATTACH, status=500, message="attach not supported")
    fake_docker.inject(r"^POST /containers/[^/]+/start$", delay=1.5)
    spawner = fake_spawner(remove=False, **traits)
    give_hub_server(spawner)  # the watch stays open after start(), as under a Hub
    url = await spawner.start()
    assert url.startswith("http://")
    watch = spawner._startup_watch
    assert watch is not None and not watch.died.done()
    await spawner.stop()
